package encoder_test

import (
	"context"
	"errors"
	"testing"

	"github.com/tagline-station/tagline/encoder"
	"github.com/tagline-station/tagline/reader/sim"
	"github.com/tagline-station/tagline/sdm"
)

const ttTemplate = "https://sdm.tagline.example/tagtt?picc_data={picc}&enc={tt}&cmac={mac}"

func ttJob(t *testing.T, tag *sim.Tag) encoder.Job {
	j := job(t, deriver(t, masterHex, 1), tag, true)
	tp, err := sdm.ParseTemplate(ttTemplate)
	if err != nil {
		t.Fatal(err)
	}
	j.Template, j.EncData = tp, []byte("--SKU-TT-000001-")
	return j
}

// A TT chip personalised with a {tt} template mirrors its loop into every
// SUN message: closed until the loop is cut, then opened, for good; the
// MAC covers the status.
func TestTagTamperMirroredInTheSUN(t *testing.T) {
	tag := sim.New(sim.Options{UID: testUID, TagTamper: true})
	if _, err := encoder.Personalise(context.Background(), present(t, tag), ttJob(t, tag), encoder.Options{}); err != nil {
		t.Fatal(err)
	}
	tp, _ := sdm.ParseTemplate(ttTemplate)
	want := independentKeySet(t)
	read := func() sdm.Verified {
		v, err := tp.Verify(phoneRead(t, present(t, tag)), fixedLookup{want[1], want[2]})
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	if v := read(); v.Tamper != sdm.TamperClosed || string(v.FileData[2:]) != "SKU-TT-000001-" {
		t.Fatalf("closed loop: %q, file data %q", v.Tamper, v.FileData)
	}
	tag.OpenTamperLoop()
	if v := read(); v.Tamper != sdm.TamperOpened || string(v.FileData[:2]) != "OO" {
		t.Fatalf("open loop: %q %q", v.Tamper, v.FileData)
	}
	tag.CloseTamperLoop()
	if v := read(); v.Tamper != sdm.TamperOpened || string(v.FileData[:2]) != "OC" {
		t.Fatalf("loop closed again: %q %q", v.Tamper, v.FileData)
	}
}

// A chip without the loop refuses the {tt} settings before any key is
// changed, and the error says so.
func TestTagTamperTemplateOnAPlainChip(t *testing.T) {
	tag := sim.New(sim.Options{UID: testUID})
	_, err := encoder.Personalise(context.Background(), present(t, tag), ttJob(t, tag), encoder.Options{})
	if !errors.Is(err, encoder.ErrNoTagTamper) {
		t.Fatalf("plain chip: %v", err)
	}
	for n := range 5 {
		if tag.KeyVersion(n) != 0 {
			t.Fatalf("key %d changed", n)
		}
	}
}
