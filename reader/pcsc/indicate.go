//go:build cgo

package pcsc

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ebfe/scard"

	"github.com/tagline-station/tagline/reader"
)

// indicateTimeout bounds one Indicate: the lights are a courtesy, never
// worth holding a lane for.
const indicateTimeout = 2 * time.Second

// escapeCode is the CCID driver's escape ioctl, SCARD_CTL_CODE(3500),
// through which a reader without a card takes its own commands.
var escapeCode = scard.CtlCode(3500)

// Indicate blinks the reader's red LED with its buzzer after a failure and
// its green LED after a pass, with the ACR122U-class pseudo-APDU. A reader
// that refuses it once (an error status word, or no escape command
// without a card) is left alone for the rest of the run: Indicate then
// returns ErrNoIndicator at once and sends nothing.
func (r *pcscReader) Indicate(ctx context.Context, passed bool) error {
	if r.noIndicator.Load() {
		return ErrNoIndicator
	}
	ctx, cancel := context.WithTimeout(ctx, indicateTimeout)
	defer cancel()
	cmd := indicateFail
	if passed {
		cmd = indicatePass
	}
	done := make(chan error, 1)
	go func() { done <- r.indicate(cmd) }()
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		return fmt.Errorf("pcsc: lights of %q: %w", r.name, ctx.Err())
	}
	if errors.Is(err, errRefused) {
		r.noIndicator.Store(true)
		return fmt.Errorf("%w: %q: %w", ErrNoIndicator, r.name, err)
	}
	if err != nil {
		return fmt.Errorf("pcsc: lights of %q: %w", r.name, err)
	}
	return nil
}

// errRefused marks an answer that says the reader has no such lights.
var errRefused = errors.New("refused")

// indicate sends cmd through the card when there is one (the reader
// intercepts its own pseudo-APDUs), else as an escape command to the
// reader itself. It owns its PC/SC context.
func (r *pcscReader) indicate(cmd []byte) error {
	sc, err := establishLocked()
	if err != nil {
		return err
	}
	defer release(sc)
	card, err := connect(sc, r.name, scard.ShareShared)
	if err == nil {
		defer disconnect(card)
		rsp, err := card.Transmit(cmd)
		if err != nil {
			return err // the tag left, or pcscd went away: try again next time
		}
		return checkIndicated(rsp)
	}
	if !errors.Is(err, scard.ErrNoSmartcard) && !errors.Is(err, scard.ErrRemovedCard) {
		return err
	}
	libMu.Lock()
	card, err = sc.Connect(r.name, scard.ShareDirect, scard.ProtocolUndefined)
	libMu.Unlock()
	if err != nil {
		if readerGone(err) {
			return err
		}
		return fmt.Errorf("%w: direct connection: %w", errRefused, err)
	}
	defer disconnect(card)
	rsp, err := card.Control(escapeCode, cmd)
	if err != nil {
		if readerGone(err) {
			return err
		}
		return fmt.Errorf("%w: escape command: %w", errRefused, err)
	}
	return checkIndicated(rsp)
}

// checkIndicated accepts 90 00 only: 63 00 is the reader's own failure,
// and a tag behind a reader that passes the pseudo-APDU on answers some
// other error.
func checkIndicated(rsp []byte) error {
	if len(rsp) >= 2 && rsp[len(rsp)-2] == 0x90 && rsp[len(rsp)-1] == 0x00 {
		return nil
	}
	return fmt.Errorf("%w: answer % X", errRefused, rsp)
}

var _ reader.Indicator = (*pcscReader)(nil)
