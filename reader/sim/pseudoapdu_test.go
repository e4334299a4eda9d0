package sim

import (
	"bytes"
	"reflect"
	"testing"
)

// A reader's own pseudo-APDUs (class FF) reach the tag when the reader
// passes them on, as vpcd does. A real NTAG 424 DNA refuses the class, and
// so does the simulated one, without any change a later command could see:
// the reader code takes the answer as "no lights here", never as the
// tag's failure.
func TestReaderPseudoAPDUsAreRefused(t *testing.T) {
	for _, c := range []struct {
		name string
		apdu []byte
	}{
		{"ACR122U red LED and buzzer", []byte{0xFF, 0x00, 0x40, 0x50, 0x04, 0x03, 0x02, 0x02, 0x01}},
		{"ACR122U green LED", []byte{0xFF, 0x00, 0x40, 0xA0, 0x04, 0x02, 0x01, 0x01, 0x00}},
		{"PC/SC GET DATA (UID)", []byte{0xFF, 0xCA, 0x00, 0x00, 0x00}},
	} {
		t.Run(c.name, func(t *testing.T) {
			tag := New(Options{})
			before := tag.Snapshot()
			got := tag.Process(c.apdu)
			if !bytes.Equal(got, []byte{0x6E, 0x00}) {
				t.Errorf("answer % X, want 6E 00 (class not supported)", got)
			}
			if after := tag.Snapshot(); !snapshotsEqual(before, after) || !tag.IsFactoryFresh() {
				t.Errorf("the pseudo-APDU changed the tag: %+v -> %+v", before, after)
			}
		})
	}
}

// snapshotsEqual compares all but the count of exchanges, which every
// command adds to.
func snapshotsEqual(a, b Snapshot) bool {
	a.Exchanges, b.Exchanges = 0, 0
	return reflect.DeepEqual(a, b)
}
