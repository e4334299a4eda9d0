package ev2_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/tagline-station/tagline/apdu"
	"github.com/tagline-station/tagline/ev2"
	"github.com/tagline-station/tagline/keys"
)

// The host's own MAC and padding checks fail with the sentinel of the
// tag's 91 1E, so callers and exit codes know one integrity error.
func TestSecureChannelChecksFailAsIntegrity(t *testing.T) {
	s := ev2.NewSession(keys.FactoryKey, keys.FactoryKey, [4]byte{1, 2, 3, 4}, 0)
	data := []byte("response data")

	mac := s.ResponseMAC(0x00, data)
	if err := s.VerifyResponseMAC(0x00, data, mac[:]); err != nil {
		t.Fatalf("genuine response mac: %v", err)
	}
	mac[7] ^= 1
	if err := s.VerifyResponseMAC(0x00, data, mac[:]); !errors.Is(err, apdu.ErrIntegrity) {
		t.Errorf("tampered response mac: %v", err)
	}
	cmac := s.CommandMAC(0x8D, []byte{2}, data)
	cmac[0] ^= 1
	if err := s.VerifyCommandMAC(0x8D, []byte{2}, data, cmac[:]); !errors.Is(err, apdu.ErrIntegrity) {
		t.Errorf("tampered command mac: %v", err)
	}

	ct := s.EncryptResponse(data)
	if p, err := s.DecryptResponse(ct); err != nil || !bytes.Equal(p, data) {
		t.Fatalf("round trip: %q, %v", p, err)
	}
	if _, err := s.DecryptResponse(ct[:15]); !errors.Is(err, apdu.ErrIntegrity) {
		t.Errorf("a part block: %v", err)
	}
	if _, err := ev2.UnpadM2(make([]byte, 16)); !errors.Is(err, apdu.ErrIntegrity) {
		t.Errorf("no padding marker: %v", err)
	}
}
