package ev2

import (
	"bytes"
	"testing"

	"github.com/tagline-station/tagline/keys"
)

// The reader's and the tag's LRP sessions stay in step: each encrypted
// block of a command or a response takes the next EncCtr on both sides,
// so a stream of exchanges decrypts, and one replayed block does not.
func TestLRPSessionsShareEncCtr(t *testing.T) {
	k, _ := keys.NewKey(bytes.Repeat([]byte{7}, 16))
	rndA, rndB := bytes.Repeat([]byte{0xA1}, 16), bytes.Repeat([]byte{0xB2}, 16)
	m := LRPSessionMasterKey(k, rndA, rndB)
	pcd := NewLRPSession(m, [4]byte{1, 2, 3, 4}, 0, 1)
	picc := NewLRPSession(m, [4]byte{1, 2, 3, 4}, 0, 1)
	var first []byte
	for i, msg := range [][]byte{[]byte("write 17 bytes..."), []byte("one"), make([]byte, 32)} {
		ct := pcd.EncryptCommand(msg)
		if i == 0 {
			first = ct
		}
		got, err := picc.DecryptCommand(ct)
		if err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("command %d: %q, %v", i, got, err)
		}
		rt := picc.EncryptResponse(msg)
		if back, err := pcd.DecryptResponse(rt); err != nil || !bytes.Equal(back, msg) {
			t.Fatalf("response %d: %q, %v", i, back, err)
		}
		if pcd.EncCtr() != picc.EncCtr() {
			t.Fatalf("counters apart: %d and %d", pcd.EncCtr(), picc.EncCtr())
		}
	}
	// Blocks after EncCtr 1: 17 bytes pad to 2 each way, 3 bytes to 1,
	// 32 bytes to 3 (method 2 adds a block when aligned).
	if pcd.EncCtr() != 1+2+2+1+1+3+3 {
		t.Fatalf("EncCtr %d after the exchanges", pcd.EncCtr())
	}
	if got, err := picc.DecryptCommand(first); err == nil && bytes.Equal(got, []byte("write 17 bytes...")) {
		t.Fatal("a replayed command decrypted under a later EncCtr")
	}
	// The MAC is CMAC_LRP: another key gives another MAC.
	other := NewLRPSession(LRPSessionMasterKey(keys.FactoryKey, rndA, rndB), [4]byte{1, 2, 3, 4}, 0, 1)
	if pcd.CommandMAC(0x51, nil, nil) == other.CommandMAC(0x51, nil, nil) {
		t.Fatal("two session keys gave one MAC")
	}
	if mac := other.CommandMAC(0x51, nil, nil); picc.VerifyCommandMAC(0x51, nil, nil, mac[:]) == nil {
		t.Fatal("a MAC under another key verified")
	}
}
