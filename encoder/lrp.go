package encoder

import (
	"context"
	"errors"
	"fmt"

	"github.com/tagline-station/tagline/apdu"
	"github.com/tagline-station/tagline/ev2"
	"github.com/tagline-station/tagline/internal/errkind"
	"github.com/tagline-station/tagline/keys"
)

// lrpPCDCap2 is the PCDcap2 sent with AuthenticateLRPFirst and echoed by
// the tag: PCDcap2.1 = 02 (LRP), the rest zero.
var lrpPCDCap2 = [6]byte{ev2.PCDCap2LRP}

// AuthenticateLRPFirst opens an LRP session with key keyNo (datasheet
// 9.2.5, 10.4.3): INS 71 with PCDcap2.1 = 02, RndB in clear, both sides
// proving the key with CMAC_LRP. A tag still in AES mode refuses it; a
// tag in LRP mode refuses AuthenticateEV2First the same way (91 9D), and
// neither refusal counts as a failed authentication.
func (c *Conn) AuthenticateLRPFirst(ctx context.Context, keyNo byte, k keys.Key) error {
	c.sess = nil
	data := append([]byte{keyNo, byte(len(lrpPCDCap2[:1]))}, lrpPCDCap2[:1]...)
	r1, sw, err := c.transmit(ctx, apdu.Native(apdu.InsAuthenticateEV2First, data))
	if err != nil {
		return keyErr("authenticate (lrp)", keyNo, err)
	}
	if sw != apdu.SWAdditionalFrame {
		return keyErr("authenticate (lrp)", keyNo, sw)
	}
	if len(r1) != 17 || r1[0] != ev2.AuthModeLRP {
		return fmt.Errorf("authenticate (lrp) with key %d: %w: not an lrp challenge", keyNo, apdu.ErrIntegrity)
	}
	rndB := r1[1:]
	rndA, err := c.random(16)
	if err != nil {
		return err
	}
	master := ev2.LRPSessionMasterKey(k, rndA, rndB)
	proof := ev2.LRPPCDResponse(master, rndA, rndB)
	ans, sw, err := c.transmit(ctx, apdu.Native(apdu.InsAdditionalFrame, append(append([]byte(nil), rndA...), proof[:]...)))
	if err != nil {
		return keyErr("authenticate (lrp)", keyNo, err)
	}
	if sw != apdu.SWNativeOK {
		return keyErr("authenticate (lrp)", keyNo, sw)
	}
	s, a, err := ev2.LRPVerifyFirst(master, rndA, rndB, ans, keyNo)
	if err != nil || a.PCDCap2 != lrpPCDCap2 {
		return fmt.Errorf("authenticate (lrp) with key %d: %w: the tag did not prove the key", keyNo, apdu.ErrAuthFailed)
	}
	c.sess = s
	return nil
}

// setConfigLRP is SetConfiguration option 05 (PDCap2) asking for LRP mode
// (datasheet 10.5.1, AN12343 table 18): PDCap2.1 = 02.
var setConfigLRP = []byte{0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00}

// SwitchToLRP puts the tag in LRP mode for good: SetConfiguration in
// CommMode.Full under a session with the application master key. The tag
// ends the session when it switches; from then on it accepts only
// AuthenticateLRPFirst and mirrors LRP SUN messages. There is no way back.
func (c *Conn) SwitchToLRP(ctx context.Context) error {
	s := c.sess
	if s == nil || s.KeyNo != keys.SlotAppMaster || s.IsLRP() {
		return fmt.Errorf("switch to lrp: needs an aes session with key 0")
	}
	hdr := []byte{0x05}
	ct := s.EncryptCommand(setConfigLRP)
	mac := s.CommandMAC(apdu.InsSetConfiguration, hdr, ct)
	resp, sw, err := c.transmit(ctx, apdu.Native(apdu.InsSetConfiguration, hdr, ct, mac[:]))
	c.sess = nil
	if err != nil {
		return fmt.Errorf("switch to lrp: %w", err)
	}
	if !sw.OK() {
		return fmt.Errorf("switch to lrp: %w", sw)
	}
	// The tag answers without a MAC, its session already reset; an
	// answer with one is checked all the same.
	if len(resp) == 8 {
		if err := s.VerifyResponseMAC(0x00, nil, resp); err != nil {
			return fmt.Errorf("switch to lrp: response: %w", err)
		}
	} else if len(resp) != 0 {
		return fmt.Errorf("switch to lrp: %w: unexpected %d-byte answer", apdu.ErrIntegrity, len(resp))
	}
	return nil
}

// ErrLRPMode: the tag was switched to LRP mode and the batch writes AES
// tags (or the other way round is refused by the tag itself).
var ErrLRPMode = errkind.New(errkind.Tag, "tag is in lrp mode, this batch is not")

// AuthenticateFirst opens a session with key keyNo in the tag's mode:
// AuthenticateEV2First, and AuthenticateLRPFirst when the tag refuses it
// with 919D, which an LRP tag does before checking any cryptogram, so the
// refusal costs no failed authentication.
func (c *Conn) AuthenticateFirst(ctx context.Context, keyNo byte, k keys.Key) error {
	err := c.AuthenticateEV2First(ctx, keyNo, k)
	if err == nil || !errors.Is(err, apdu.ErrPermission) {
		return err
	}
	if lerr := c.AuthenticateLRPFirst(ctx, keyNo, k); !errors.Is(lerr, apdu.ErrPermission) {
		return lerr
	}
	return err
}

// LRPSession reports whether the open session is an LRP session.
func (c *Conn) LRPSession() bool { return c.sess != nil && c.sess.IsLRP() }
