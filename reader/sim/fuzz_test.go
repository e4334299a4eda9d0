package sim

import (
	"bytes"
	"testing"

	"github.com/tagline-station/tagline/apdu"
	"github.com/tagline-station/tagline/internal/vectors"
	"github.com/tagline-station/tagline/keys"
	"github.com/tagline-station/tagline/sdm"
)

// fuzzTag builds a tag in one of several states, chosen by the first input
// byte, so that the fuzzer reaches every handler.
func fuzzTag(t *testing.T, state byte) *Tag {
	tag := New(Options{UID: []byte{4, 1, 2, 3, 4, 5, 6}, Rand: seeded(uint64(state)), AuthDelayAfter: 2, TotFailCtrLimit: 5})
	p := newPCD(t, tag)
	tpl, _ := sdm.ParseTemplate("https://x.example/t?e={picc}&n={enc}&c={mac}")
	s := tpl.Settings(2, 1)
	s.Access = sdm.AccessRights{Read: sdm.AccessFree, Write: 3, ReadWrite: 3, Change: 0}
	ndef, _ := tpl.NDEF(make([]byte, 16))
	switch state % 8 {
	case 1:
		p.selectApp()
	case 2:
		p.selectApp()
		p.selectEF(apdu.FIDNDEF)
	case 3:
		setFile(tag, apdu.FileNDEF, s, ndef)
		injectSession(tag, keys.FactoryKey, keys.FactoryKey, []byte{1, 2, 3, 4}, 0, 0)
	case 4:
		setFile(tag, apdu.FileNDEF, s, ndef)
		p.selectApp()
		p.selectEF(apdu.FIDNDEF)
	case 5:
		p.selectApp()
		tag.Process(apdu.Native(apdu.InsAuthenticateEV2First, []byte{0, 0}))
	case 6:
		// Settings no ChangeFileSettings would accept: offsets past the
		// end, a counter at its limit. Mirroring must not panic.
		bad := s
		bad.PICCOffset, bad.MACOffset, bad.MACInOffset, bad.ENCOffset, bad.ENCLength = 250, 255, 300, 240, 64
		setFile(tag, apdu.FileNDEF, bad, nil)
		setCounter(tag, apdu.FileNDEF, 0xFFFFFF)
		p.selectApp()
		p.selectEF(apdu.FIDNDEF)
	case 7:
		injectSession(tag, keys.FactoryKey, keys.FactoryKey, []byte{1, 2, 3, 4}, 3, 0xFFFF)
	}
	return tag
}

// FuzzProcess: Process never panics and always answers with at least a
// status word, whatever the APDUs and the state. The input is a state byte
// followed by length-prefixed APDUs.
func FuzzProcess(f *testing.F) {
	add := func(state byte, apdus ...[]byte) {
		in := []byte{state}
		for _, a := range apdus {
			in = append(append(in, byte(len(a))), a...)
		}
		f.Add(in)
	}
	add(0, selectApp, []byte{0x90, 0x60, 0x00, 0x00, 0x00}, []byte{0x90, 0xAF, 0x00, 0x00, 0x00})
	add(2, []byte{0x00, 0xB0, 0x00, 0x00, 0x00}, []byte{0x00, 0xD6, 0x00, 0x00, 0x01, 0x00})
	add(4, []byte{0x00, 0xB0, 0x00, 0x00, 0x00}, []byte{0x00, 0xB0, 0x00, 0x40, 0x10})
	add(6, []byte{0x00, 0xB0, 0x00, 0x00, 0x00}, apdu.Native(apdu.InsReadData, dataHdr(2, 0, 0)))
	add(3, apdu.Native(apdu.InsReadData, dataHdr(2, 0, 0), make([]byte, 8)))
	add(5, apdu.Native(apdu.InsAdditionalFrame, make([]byte, 32)))
	add(7, apdu.Native(apdu.InsGetCardUID, make([]byte, 8)))
	add(1, apdu.Native(apdu.InsChangeFileSettings, []byte{2, 0x40, 0x00, 0xE0}))
	for _, v := range vectors.All(f) {
		for _, field := range []string{"c_apdu", "c_apdu_part1", "c_apdu_part2"} {
			if v.HasOut(field) {
				add(1, v.Out(f, field))
				add(3, v.Out(f, field))
			}
		}
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) == 0 {
			return
		}
		tag := fuzzTag(t, in[0])
		in = in[1:]
		for len(in) > 0 {
			n := min(int(in[0]), len(in)-1)
			c := in[1 : 1+n]
			in = in[1+n:]
			r := tag.Process(bytes.Clone(c))
			if len(r) < 2 {
				t.Fatalf("%X answered %X", c, r)
			}
		}
	})
}
