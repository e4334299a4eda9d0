package encoder_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"testing"

	"github.com/tagline-station/tagline/encoder"
	"github.com/tagline-station/tagline/keys"
	"github.com/tagline-station/tagline/reader"
	"github.com/tagline-station/tagline/reader/sim"
)

// recorder keeps every command sent through it.
type recorder struct {
	reader.Card
	cmds [][]byte
}

func (r *recorder) Transmit(ctx context.Context, capdu []byte) ([]byte, error) {
	r.cmds = append(r.cmds, bytes.Clone(capdu))
	return r.Card.Transmit(ctx, capdu)
}

func (r *recorder) count(ins byte) (n int) {
	for _, c := range r.cmds {
		if len(c) > 1 && c[0] == 0x90 && c[1] == ins {
			n++
		}
	}
	return n
}

// simTrust is what a station trusts on the simulated reader.
func simTrust() []*ecdsa.PublicKey {
	return []*ecdsa.PublicKey{encoder.NXPOriginalityKey(), sim.OriginalityTestKey()}
}

// A simulated tag signs its UID with the simulator's test key: it passes
// through the normal flow when that key is trusted, with one Read_Sig
// (90 3C 00 00 01 00 00) sent before any key version or authentication.
func TestGenuineSimTagPasses(t *testing.T) {
	for _, withUID := range []bool{true, false} {
		t.Run(fmt.Sprintf("reader-uid=%v", withUID), func(t *testing.T) {
			tag := sim.New(sim.Options{UID: testUID})
			rec := &recorder{Card: present(t, tag)}
			j := job(t, deriver(t, masterHex, 1), tag, withUID)
			j.Genuine = simTrust()
			res, err := encoder.Personalise(context.Background(), rec, j, encoder.Options{})
			if err != nil {
				t.Fatal(err)
			}
			want := 15 // TestPersonaliseFactoryTag's 14, and Read_Sig
			if !withUID {
				want = 16
			}
			if res.Exchanges != want {
				t.Errorf("%d exchanges, want %d", res.Exchanges, want)
			}
			readSig := []byte{0x90, 0x3C, 0x00, 0x00, 0x01, 0x00, 0x00}
			if len(rec.cmds) < 3 || !bytes.Equal(rec.cmds[2], readSig) {
				t.Fatalf("third command % X, want Read_Sig % X", rec.cmds[2], readSig)
			}
			if tag.IsFactoryFresh() || rec.count(0x3C) != 1 {
				t.Errorf("tag not personalised, or %d Read_Sig", rec.count(0x3C))
			}
		})
	}
}

// forgedSignatures are the ways a chip's signature can be wrong.
func forgedSignatures(t *testing.T) map[string][]byte {
	t.Helper()
	other, err := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	own := sim.New(sim.Options{UID: testUID})
	good := readSig(t, own)
	flipped := bytes.Clone(good)
	flipped[40] ^= 0x08
	otherUID := bytes.Clone(testUID)
	otherUID[6] ^= 0x01
	return map[string][]byte{
		"one flipped bit":          flipped,
		"signature of another uid": readSig(t, sim.New(sim.Options{UID: otherUID})),
		"signed by another key":    sim.SignOriginality(other, testUID),
		"all zero":                 make([]byte, 56),
		"short":                    good[:55],
	}
}

// readSig reads a tag's own signature, unauthenticated.
func readSig(t *testing.T, tag *sim.Tag) []byte {
	t.Helper()
	c := encoder.New(present(t, tag), encoder.Options{})
	if err := c.SelectApplication(context.Background()); err != nil {
		t.Fatal(err)
	}
	sig, err := c.ReadSig(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return sig
}

// A wrong signature is caught before any key is tried (the reader names
// the UID) or, on a tag that does not give its UID, before anything is
// written or journaled; the tag stays factory-fresh either way.
func TestNotGenuineIsRefusedWithNothingWritten(t *testing.T) {
	for name, sig := range forgedSignatures(t) {
		for _, withUID := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/reader-uid=%v", name, withUID), func(t *testing.T) {
				tag := sim.New(sim.Options{UID: testUID})
				tag.SetOriginalitySignature(sig)
				rec := &recorder{Card: present(t, tag)}
				j := job(t, deriver(t, masterHex, 1), tag, withUID)
				j.Genuine = simTrust()
				hooked := false
				j.BeforeWrite = func(context.Context, []byte, encoder.Found) error { hooked = true; return nil }
				res, err := encoder.Personalise(context.Background(), rec, j, encoder.Options{})
				if !errors.Is(err, encoder.ErrNotGenuine) {
					t.Fatalf("err %v, want not genuine", err)
				}
				var se *encoder.StepError
				if !errors.As(err, &se) || se.Step != encoder.StepGenuine {
					t.Errorf("step of %v", err)
				}
				if !tag.IsFactoryFresh() || hooked {
					t.Fatalf("tag written (%v) or journal hook ran (%v)", !tag.IsFactoryFresh(), hooked)
				}
				if withUID && (rec.count(0x71) != 0 || rec.count(0x64) != 0) {
					t.Errorf("%d authentications, %d key versions before refusing", rec.count(0x71), rec.count(0x64))
				}
				// A malformed signature is refused before the uid is asked.
				if !withUID && len(sig) == encoder.OriginalitySigLen && !bytes.Equal(res.UID, testUID) {
					t.Errorf("uid %X", res.UID)
				}
				if res.Exchanges != len(rec.cmds) {
					t.Errorf("%d exchanges reported, %d sent", res.Exchanges, len(rec.cmds))
				}
			})
		}
	}
}

// NXP's key alone refuses a simulated tag: a station trusts the test key
// only on the simulated reader.
func TestSimTagIsNotGenuineForNXPAlone(t *testing.T) {
	tag := sim.New(sim.Options{UID: testUID})
	j := job(t, deriver(t, masterHex, 1), tag, true)
	j.Genuine = []*ecdsa.PublicKey{encoder.NXPOriginalityKey()}
	_, err := encoder.Personalise(context.Background(), present(t, tag), j, encoder.Options{})
	if !errors.Is(err, encoder.ErrNotGenuine) || !tag.IsFactoryFresh() {
		t.Fatalf("err %v, factory fresh %v", err, tag.IsFactoryFresh())
	}
}

// Within a session Read_Sig is CommMode.Full: the encrypted, MACed answer
// decrypts to the same signature as the plain one.
func TestReadSigInSession(t *testing.T) {
	tag := sim.New(sim.Options{UID: testUID})
	plain := readSig(t, tag)
	c := encoder.New(present(t, tag), encoder.Options{})
	ctx := context.Background()
	if err := c.SelectApplication(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.AuthenticateEV2First(ctx, 0, keys.FactoryKey); err != nil {
		t.Fatal(err)
	}
	sig, err := c.ReadSig(ctx)
	if err != nil || !bytes.Equal(sig, plain) {
		t.Fatalf("in session % X (%v), plain % X", sig, err, plain)
	}
	if err := encoder.VerifyOriginality(testUID, sig, []*ecdsa.PublicKey{sim.OriginalityTestKey()}); err != nil {
		t.Fatal(err)
	}
	if !c.Authenticated() {
		t.Error("the session ended")
	}
}

func TestParseOriginalityKeyRefusesOffCurve(t *testing.T) {
	raw := append([]byte{0x04}, make([]byte, 56)...)
	raw[56] = 1
	if _, err := encoder.ParseOriginalityKey(raw); err == nil {
		t.Fatal("accepted a point off the curve")
	}
	if _, err := encoder.ParseOriginalityKey(raw[:50]); err == nil {
		t.Fatal("accepted a short key")
	}
}

// noReadSig is a chip that does not know Read_Sig, as a clone may not.
type noReadSig struct{ reader.Card }

func (n noReadSig) Transmit(ctx context.Context, capdu []byte) ([]byte, error) {
	if len(capdu) > 1 && capdu[0] == 0x90 && capdu[1] == encoder.InsReadSig {
		return []byte{0x91, 0x1C}, nil
	}
	return n.Card.Transmit(ctx, capdu)
}

func TestChipWithoutReadSigIsNotGenuine(t *testing.T) {
	tag := sim.New(sim.Options{UID: testUID})
	j := job(t, deriver(t, masterHex, 1), tag, true)
	j.Genuine = simTrust()
	_, err := encoder.Personalise(context.Background(), noReadSig{present(t, tag)}, j, encoder.Options{})
	if !errors.Is(err, encoder.ErrNotGenuine) || !tag.IsFactoryFresh() {
		t.Fatalf("err %v, factory fresh %v", err, tag.IsFactoryFresh())
	}
}
