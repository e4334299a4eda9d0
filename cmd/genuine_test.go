package cmd

import (
	"strings"
	"testing"

	"github.com/tagline-station/tagline/encoder"
	"github.com/tagline-station/tagline/qa"
	"github.com/tagline-station/tagline/reader"
	"github.com/tagline-station/tagline/reader/sim"
)

// The simulator's test key is trusted only for a run of simulated readers
// or a test batch; NXP's key always.
func TestGenuineKeysTrustTheSimKeyOnlyForSimulatedRuns(t *testing.T) {
	simSpec := readerSpec{Kind: reader.KindSim, Name: "sim", Raw: "sim"}
	pcsc := readerSpec{Kind: reader.KindPCSC, Name: "ACS ACR122U", Raw: "ACS ACR122U"}
	for _, c := range []struct {
		name     string
		specs    []readerSpec
		all      bool
		test     bool
		trustSim bool
	}{
		{"sim", []readerSpec{simSpec}, false, false, true},
		{"pcsc", []readerSpec{pcsc}, false, false, false},
		{"sim and pcsc", []readerSpec{simSpec, pcsc}, false, false, false},
		{"all readers", nil, true, false, false},
		{"sim and all readers", []readerSpec{simSpec}, true, false, false},
		{"pcsc, test batch", []readerSpec{pcsc}, false, true, true},
	} {
		got := genuineKeys(c.specs, c.all, c.test)
		if len(got) == 0 || !got[0].Equal(encoder.NXPOriginalityKey()) {
			t.Errorf("%s: NXP's key is not trusted", c.name)
		}
		hasSim := false
		for _, k := range got {
			hasSim = hasSim || k.Equal(sim.OriginalityTestKey())
		}
		if hasSim != c.trustSim {
			t.Errorf("%s: sim key trusted %v, want %v", c.name, hasSim, c.trustSim)
		}
	}
}

// tagline verify --reader sim reports a chip whose originality signature
// fails as not_genuine (exit 4), and passes the others.
func TestVerifyReaderReportsNotGenuine(t *testing.T) {
	c := newCLI(t)
	l := newLine(t, c, "b1", 3)
	n := 0
	c.simPresented = func(tag *sim.Tag) {
		if n++; n == 2 {
			tag.SetOriginalitySignature(make([]byte, encoder.OriginalitySigLen))
		}
	}
	r := l.verify(c, 4, "--reader", "sim", "--json")
	rep := parseReport(t, r.stdout)
	if rep.Counts.Pass != 2 || rep.Counts.Fail != 1 || rep.Counts.ByReason[qa.ReasonNotGenuine] != 1 {
		t.Fatalf("counts %+v", rep.Counts)
	}
	for _, res := range rep.Results {
		if res.Verdict == qa.Fail && (res.Reason != qa.ReasonNotGenuine || !strings.Contains(res.Detail, "not a genuine NXP chip")) {
			t.Errorf("%+v", res)
		}
	}
}
