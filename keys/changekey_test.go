package keys

import (
	"bytes"
	"testing"
)

func testKey(t *testing.T, fill byte) Key {
	t.Helper()
	k, err := NewKey(bytes.Repeat([]byte{fill}, BlockSize))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// The tag recovers the new key and version from the data the reader
// builds, in both cases of ChangeKey, and refuses case-1 data built over
// another old key (the CRC then does not match) or of the wrong length.
func TestChangeKeyDataRoundTrip(t *testing.T) {
	old, nk, other := testKey(t, 0x11), testKey(t, 0xA5), testKey(t, 0x12)
	for _, authKey := range []bool{false, true} {
		d := nk.ChangeKeyData(old, 7, authKey)
		if want := map[bool]int{false: 21, true: 17}[authKey]; len(d) != want {
			t.Fatalf("case authKey=%v: %d bytes, want %d", authKey, len(d), want)
		}
		got, ver, ok := OpenChangeKeyData(old, d, authKey)
		if !ok || ver != 7 || !got.Equal(nk) {
			t.Errorf("case authKey=%v: opened %v, version %d, ok %v", authKey, got, ver, ok)
		}
		if _, _, ok := OpenChangeKeyData(old, d[:len(d)-1], authKey); ok {
			t.Errorf("case authKey=%v: short data accepted", authKey)
		}
	}
	if _, _, ok := OpenChangeKeyData(other, nk.ChangeKeyData(old, 7, false), false); ok {
		t.Error("case-1 data opened with the wrong old key")
	}
	// Case 1 carries the new key only XORed with the old one.
	if d := nk.ChangeKeyData(old, 7, false); bytes.Contains(d, nk.b[:]) {
		t.Error("case-1 data holds the new key in clear")
	}
}
