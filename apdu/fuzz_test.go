package apdu

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzResponse splits arbitrary tag answers. A response is whatever the
// air, a reader stack or a hostile tag delivers, so Response must never
// panic, must refuse anything shorter than a status word, and must give
// back exactly the bytes it was given, split before the last two.
func FuzzResponse(f *testing.F) {
	f.Add([]byte{0x90, 0x00})
	f.Add([]byte{0x91, 0xAF})
	f.Add([]byte{0x01})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, r []byte) {
		data, sw, err := Response(r)
		if len(r) < 2 {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("%d-byte answer accepted: %v", len(r), err)
			}
			return
		}
		if err != nil {
			t.Fatalf("% X: %v", r, err)
		}
		if !bytes.Equal(append(append([]byte(nil), data...), sw.Bytes()...), r) {
			t.Fatalf("% X split into % X and %04X", r, data, uint16(sw))
		}
		// Every status word has a class and a message that names it.
		if sw.Class() == nil || sw.Error() == "" {
			t.Fatalf("%04X has no class or message", uint16(sw))
		}
		if sw.OK() && (errors.Is(sw, ErrAuthFailed) || errors.Is(sw, ErrIntegrity)) {
			t.Fatalf("%04X is both ok and an error class", uint16(sw))
		}
	})
}

// FuzzParse decodes arbitrary command APDUs as the simulated tag does:
// no panic, and an accepted APDU re-encodes to its own bytes.
func FuzzParse(f *testing.F) {
	f.Add(Native(InsGetKeyVersion, []byte{0x00}))
	f.Add(Native(InsGetVersion))
	f.Add([]byte{ClaISO, InsReadBinary, 0x00, 0x00, 0x02})
	f.Fuzz(func(t *testing.T, c []byte) {
		cmd, err := Parse(c)
		if err != nil {
			if len(c) >= 4 && len(c) <= 5 {
				t.Fatalf("case 1 or 2 APDU % X refused: %v", c, err)
			}
			return
		}
		out := []byte{cmd.Cla, cmd.Ins, cmd.P1, cmd.P2}
		if len(cmd.Data) > 0 {
			out = append(append(out, byte(len(cmd.Data))), cmd.Data...)
		}
		if cmd.HasLe {
			out = append(out, c[len(c)-1])
		}
		if !bytes.Equal(out, c) {
			t.Fatalf("% X parsed to %+v, re-encodes to % X", c, cmd, out)
		}
	})
}
