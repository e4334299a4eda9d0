package cmd

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/tagline-station/tagline/reader"
	"github.com/tagline-station/tagline/reader/sim"
	"github.com/tagline-station/tagline/station"
)

func TestParseReaderAlias(t *testing.T) {
	for in, want := range map[string]readerSpec{
		"left=pcsc:ACS ACR122U PICC Interface 00 00": {Kind: reader.KindPCSC, Name: "ACS ACR122U PICC Interface 00 00", Raw: "left=pcsc:ACS ACR122U PICC Interface 00 00", Alias: "left"},
		"lane-2=sim":                 {Kind: reader.KindSim, Name: "sim", Raw: "lane-2=sim", Alias: "lane-2"},
		"r.1 = libnfc:pn532_uart:/x": {Kind: reader.KindLibNFC, Name: "pn532_uart:/x", Raw: "r.1 = libnfc:pn532_uart:/x", Alias: "r.1"},
		"pcsc:Odd=Name 00 00":        {Kind: reader.KindPCSC, Name: "Odd=Name 00 00", Raw: "pcsc:Odd=Name 00 00"},
		"right=Virtual PCD 00 01":    {Kind: reader.KindPCSC, Name: "Virtual PCD 00 01", Raw: "right=Virtual PCD 00 01", Alias: "right"},
	} {
		got, err := parseReaderSpec(in)
		if err != nil || got != want {
			t.Errorf("%q: %+v %v, want %+v", in, got, err, want)
		}
	}
	for _, bad := range []string{"=sim", "left=", "left=pcsc:", "le ft=sim", "a/b=sim", "a-very-long-alias-for-a-reader=sim"} {
		if sp, err := parseReaderSpec(bad); err == nil {
			t.Errorf("%q accepted: %+v", bad, sp)
		}
	}
}

// indicatorReader is a reader with lights, to check that a name does not
// hide them.
type indicatorReader struct {
	*sim.Reader
	calls int
}

func (r *indicatorReader) Indicate(context.Context, bool) error {
	r.calls++
	return errors.New("refused")
}

func TestWithNameKeepsTheIndicator(t *testing.T) {
	ir := &indicatorReader{Reader: sim.NewReader("Virtual PCD 00 00")}
	r := withName(ir, "left")
	if got := r.Info().Name; got != "left" {
		t.Errorf("Info().Name = %q", got)
	}
	ind, ok := r.(reader.Indicator)
	if !ok {
		t.Fatal("the named reader lost the Indicator")
	}
	if err := ind.Indicate(context.Background(), false); err == nil || ir.calls != 1 {
		t.Errorf("Indicate: %v, %d calls", err, ir.calls)
	}
	plain := withName(sim.NewReader("x"), "left")
	if _, ok := plain.(reader.Indicator); ok {
		t.Error("a reader without lights gained an Indicator")
	}
	if same := sim.NewReader("sim"); withName(same, "sim") != reader.Reader(same) {
		t.Error("a reader already named as its lane was wrapped")
	}
}

// The alias is the lane's name in --json, and every event the screen gets
// names a lane it was told of (no second row for the same reader).
func TestEncodeReaderAliases(t *testing.T) {
	c := newCLI(t)
	c.must(0, "demo", "--count", "1")
	id := demoBatchID(t, c)
	r := c.must(0, "encode", "--journal", demoJournal, "--batch", id, "--readers", "left=sim,right=sim:b", "--count", "4", "--json", "--over-target",
		"--sim-interval", "1ms", "--master-key-file", demoKeyFile)
	names := map[string]int{}
	for _, l := range parseTagLines(t, r.stdout) {
		names[l.Reader]++
	}
	if len(names) != 2 || names["left"] == 0 || names["right"] == 0 {
		t.Errorf("results per reader: %v", names)
	}
	c.must(2, "encode", "--journal", demoJournal, "--batch", id, "--readers", "a=sim,a=sim:b", "--count", "1", "--master-key-file", demoKeyFile)
	checkUILaneNames(t, c, "encode", "--journal", demoJournal, "--batch", id, "--readers", "left=sim,right=sim:b", "--count", "2", "--over-target",
		"--sim-interval", "1ms", "--master-key-file", demoKeyFile)
}

// checkUILaneNames runs the station with a stand-in screen and fails when
// an event names a reader the screen was not given.
func checkUILaneNames(t *testing.T, c *cli, args ...string) {
	t.Helper()
	var lanes []string
	var strays []string
	c.stdoutTTY = true
	c.runUI = func(ctx context.Context, cfg uiConfig) error {
		lanes = cfg.Readers
		for ev := range cfg.Events {
			if ev.Kind != station.EvSync && !slices.Contains(cfg.Readers, ev.Reader) {
				strays = append(strays, ev.Reader)
			}
		}
		return nil
	}
	defer func() { c.stdoutTTY, c.runUI = false, nil }()
	c.must(0, args...)
	if len(strays) > 0 {
		t.Errorf("events from readers %q, the screen was given %q", strays, lanes)
	}
}
