package apdu_test

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/tagline-station/tagline/apdu"
	"github.com/tagline-station/tagline/internal/errkind"
	"github.com/tagline-station/tagline/internal/vectors"
)

// Native builds the command APDUs NXP prints (AN12196): the first part of
// AuthenticateEV2First with key 0 and Read_Sig.
func TestNativeMatchesPublishedCommands(t *testing.T) {
	v := vectors.Named(t, "an12196-authfirst-key0")
	if got := apdu.Native(0x71, []byte{0x00, 0x00}); !bytes.Equal(got, v.Out(t, "c_apdu_part1")) {
		t.Errorf("AuthenticateEV2First part 1: %X, want %X", got, v.Out(t, "c_apdu_part1"))
	}
	if got := apdu.Native(0x3C, []byte{0x00}); !bytes.Equal(got, []byte{0x90, 0x3C, 0x00, 0x00, 0x01, 0x00, 0x00}) {
		t.Errorf("Read_Sig: %X", got)
	}
	// No data: no Lc, Le only (GetVersion, 90 60 00 00 00).
	if got := apdu.Native(0x60); !bytes.Equal(got, []byte{0x90, 0x60, 0x00, 0x00, 0x00}) {
		t.Errorf("GetVersion: %X", got)
	}
}

// Parse reads back every command the vectors publish, and the four
// cases of ISO/IEC 7816-4 short APDUs.
func TestParse(t *testing.T) {
	for _, v := range vectors.All(t) {
		for _, field := range []string{"c_apdu", "c_apdu_part1", "c_apdu_part2"} {
			if !v.HasOut(field) {
				continue
			}
			c := v.Out(t, field)
			cmd, err := apdu.Parse(c)
			if err != nil || cmd.Cla != c[0] || cmd.Ins != c[1] || !cmd.HasLe {
				t.Errorf("%s %s: %+v, %v", v.Name, field, cmd, err)
			}
			if len(c) > 5 && !bytes.Equal(cmd.Data, c[5:5+int(c[4])]) {
				t.Errorf("%s %s: data %X", v.Name, field, cmd.Data)
			}
		}
	}
	for _, c := range []struct {
		in      []byte
		data    []byte
		le, bad bool
	}{
		{in: []byte{0x00, 0xA4, 0x04, 0x00}},                                                 // case 1
		{in: []byte{0x90, 0x60, 0x00, 0x00, 0x00}, le: true},                                 // case 2
		{in: []byte{0x00, 0xD6, 0x00, 0x00, 0x02, 0xAA, 0xBB}, data: []byte{0xAA, 0xBB}},     // case 3
		{in: []byte{0x90, 0x3C, 0x00, 0x00, 0x01, 0x00, 0x00}, data: []byte{0x00}, le: true}, // case 4
		{in: []byte{0x90, 0x3C, 0x00}, bad: true},
		{in: []byte{0x90, 0x3C, 0x00, 0x00, 0x00, 0x00}, bad: true},             // Lc 0
		{in: []byte{0x90, 0x3C, 0x00, 0x00, 0x03, 0x00}, bad: true},             // short data
		{in: []byte{0x90, 0x3C, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00}, bad: true}, // trailing bytes
	} {
		cmd, err := apdu.Parse(c.in)
		if c.bad {
			if !errors.Is(err, apdu.ErrMalformed) {
				t.Errorf("%X: %+v, %v; want ErrMalformed", c.in, cmd, err)
			}
			continue
		}
		if err != nil || !bytes.Equal(cmd.Data, c.data) || cmd.HasLe != c.le {
			t.Errorf("%X: %+v, %v", c.in, cmd, err)
		}
	}
}

// A status word is a comparable error of kind Tag that matches its class
// through any wrapping, as callers and the exit codes rely on.
func TestStatusWordsAsErrors(t *testing.T) {
	v := vectors.Named(t, "an12196-authfirst-key0")
	data, sw, err := apdu.Response(v.In(t, "r_apdu_part1"))
	if err != nil || sw != apdu.SWAdditionalFrame || len(data) != 16 {
		t.Fatalf("Response(part 1): %d bytes, %04X, %v", len(data), uint16(sw), err)
	}
	if _, _, err := apdu.Response([]byte{0x91}); !errors.Is(err, apdu.ErrMalformed) {
		t.Errorf("a 1-byte response: %v", err)
	}
	for sw, class := range map[apdu.StatusWord]error{
		apdu.SWAuthError:        apdu.ErrAuthFailed,
		apdu.SWNoSuchKey:        apdu.ErrAuthFailed,
		apdu.SWAuthDelay:        apdu.ErrAuthDelay,
		apdu.SWIntegrityError:   apdu.ErrIntegrity,
		apdu.SWPermissionDenied: apdu.ErrPermission,
		apdu.SWBoundaryError:    apdu.ErrLength,
		apdu.SWCommandAborted:   apdu.ErrTag,
	} {
		err := fmt.Errorf("change key: %w", sw)
		if !errors.Is(err, class) || !errors.Is(err, sw) || errkind.Of(err) != errkind.Tag {
			t.Errorf("%04X: class %v, kind %v", uint16(sw), errors.Is(err, class), errkind.Of(err))
		}
		if other := apdu.StatusWord(0x91FF); errors.Is(err, other) {
			t.Errorf("%04X matches %04X", uint16(sw), uint16(other))
		}
		if !bytes.Equal(sw.Bytes(), []byte{byte(sw >> 8), byte(sw)}) {
			t.Errorf("%04X bytes %X", uint16(sw), sw.Bytes())
		}
	}
	if got := apdu.SWAuthError.Error(); !strings.HasPrefix(got, "tag answered 91AE (") {
		t.Errorf("message %q", got)
	}
	if !apdu.SWOK.OK() || !apdu.SWNativeOK.OK() || apdu.SWAdditionalFrame.OK() {
		t.Error("OK")
	}
}
