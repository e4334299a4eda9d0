package sim

import (
	"bytes"
	"testing"

	"github.com/tagline-station/tagline/apdu"
	"github.com/tagline-station/tagline/ev2"
	"github.com/tagline-station/tagline/internal/vectors"
	"github.com/tagline-station/tagline/keys"
	"github.com/tagline-station/tagline/sdm"
)

// fuzzLRPTag builds a tag in LRP mode in one of several states.
func fuzzLRPTag(t *testing.T, state byte) *Tag {
	tag := New(Options{UID: []byte{4, 1, 2, 3, 4, 5, 6}, Rand: seeded(uint64(state)), LRP: true, AuthDelayAfter: 2, TotFailCtrLimit: 5})
	p := newPCD(t, tag)
	tpl, _ := sdm.ParseTemplate("https://x.example/t?e={picc}&n={enc}&c={mac}")
	lt, _ := tpl.LRP()
	s := lt.Settings(2, 1)
	s.Access = sdm.AccessRights{Read: sdm.AccessFree, Write: 3, ReadWrite: 3, Change: 0}
	ndef, _ := lt.NDEF(make([]byte, 16))
	lrpSession := func(ctr uint16) {
		tag.mu.Lock()
		s := ev2.NewLRPSession(keys.FactoryKey, [4]byte{1, 2, 3, 4}, 0, 1)
		s.CmdCtr = ctr
		tag.appSelected, tag.sess = true, s
		tag.mu.Unlock()
	}
	switch state % 6 {
	case 1:
		p.selectApp()
	case 2:
		setFile(tag, apdu.FileNDEF, s, ndef)
		p.selectApp()
		p.selectEF(apdu.FIDNDEF)
	case 3:
		setFile(tag, apdu.FileNDEF, s, ndef)
		lrpSession(0)
	case 4:
		p.selectApp()
		tag.Process(apdu.Native(apdu.InsAuthenticateEV2First, []byte{0, 1, ev2.PCDCap2LRP}))
	case 5:
		// Offsets no ChangeFileSettings would accept, with LRP's wider
		// PICCData: mirroring must not panic.
		bad := s
		bad.PICCOffset, bad.MACOffset, bad.MACInOffset, bad.ENCOffset, bad.ENCLength = 230, 255, 300, 240, 64
		setFile(tag, apdu.FileNDEF, bad, nil)
		p.selectApp()
		p.selectEF(apdu.FIDNDEF)
	}
	return tag
}

// FuzzProcessLRP: a tag in LRP mode never panics, always answers with at
// least a status word, and never leaves LRP mode, whatever the APDUs. The
// input is a state byte followed by length-prefixed APDUs.
func FuzzProcessLRP(f *testing.F) {
	add := func(state byte, apdus ...[]byte) {
		in := []byte{state}
		for _, a := range apdus {
			in = append(append(in, byte(len(a))), a...)
		}
		f.Add(in)
	}
	auth := vectors.Named(f, "an12321-authenticatelrpfirst-table2")
	sw := vectors.Named(f, "an12343-setconfiguration-lrp-switch")
	add(1, auth.Out(f, "c_apdu_part1"), auth.Out(f, "c_apdu_part2"))
	add(4, auth.Out(f, "c_apdu_part2"))
	add(3, sw.Out(f, "c_apdu"), apdu.Native(apdu.InsGetCardUID, make([]byte, 8)))
	add(3, apdu.Native(apdu.InsReadData, []byte{2, 0, 0, 0, 0, 0, 0}, make([]byte, 8)))
	add(2, []byte{0x00, 0xB0, 0x00, 0x00, 0x00}, []byte{0x00, 0xB0, 0x00, 0x00, 0x00})
	add(5, []byte{0x00, 0xB0, 0x00, 0x00, 0x00})
	add(1, apdu.Native(apdu.InsAuthenticateEV2First, []byte{0, 0}), apdu.Native(apdu.InsAuthenticateEV2NonFirst, []byte{0}))
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) == 0 {
			return
		}
		tag := fuzzLRPTag(t, in[0])
		in = in[1:]
		for len(in) > 0 {
			n := min(int(in[0]), len(in)-1)
			c := in[1 : 1+n]
			in = in[1+n:]
			r := tag.Process(bytes.Clone(c))
			if len(r) < 2 {
				t.Fatalf("%X answered %X", c, r)
			}
			if !tag.Snapshot().LRP {
				t.Fatalf("%X took the tag out of LRP mode", c)
			}
		}
	})
}
