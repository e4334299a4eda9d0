package encoder_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/tagline-station/tagline/encoder"
	"github.com/tagline-station/tagline/keys"
	"github.com/tagline-station/tagline/reader"
	"github.com/tagline-station/tagline/reader/sim"
)

// personalised returns a sim tag personalised with d through the real flow.
func personalised(t *testing.T, d *keys.Deriver) *sim.Tag {
	t.Helper()
	tag := sim.New(sim.Options{UID: testUID})
	if _, err := encoder.Personalise(context.Background(), present(t, tag), job(t, d, tag, true), encoder.Options{}); err != nil {
		t.Fatal(err)
	}
	return tag
}

func boundAt(d *keys.Deriver) encoder.Bound {
	return func(context.Context, []byte) (*keys.Deriver, error) { return d, nil }
}

func rekeyJob(t *testing.T, from, to *keys.Deriver, tag *sim.Tag, writes *int) encoder.RekeyJob {
	j := job(t, to, tag, true)
	return encoder.RekeyJob{To: to, Template: j.Template, ReaderUID: tag.UID(), Bound: boundAt(from),
		BeforeWrite: func(context.Context, []byte) error { *writes++; return nil }}
}

func resetJob(t *testing.T, from *keys.Deriver, tag *sim.Tag, writes *int) encoder.ResetJob {
	j := job(t, from, tag, true)
	return encoder.ResetJob{Template: j.Template, ReaderUID: tag.UID(), Bound: boundAt(from),
		BeforeWrite: func(context.Context, []byte) error { *writes++; return nil }}
}

func keysOf(t *testing.T, version byte) [5]keys.Key {
	var want [5]keys.Key
	for n, b := range independentKeys(t, masterHex, testUID, version) {
		want[n], _ = keys.NewKey(b)
	}
	return want
}

// TestRekeyMovesEveryKey: a clean rekey changes keys 1 to 4 and key 0 to
// the new version's keys (derived independently), with one
// authentication, and the SUN message read back verifies with them.
func TestRekeyMovesEveryKey(t *testing.T) {
	d1, d2 := deriver(t, masterHex, 1), deriver(t, masterHex, 2)
	tag := personalised(t, d1)
	var writes int
	res, err := encoder.Rekey(context.Background(), present(t, tag), rekeyJob(t, d1, d2, tag, &writes), encoder.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !tag.IsPersonalisedWith(keysOf(t, 2)) {
		t.Fatal("the tag does not hold the version 2 keys")
	}
	for n := 0; n < 5; n++ {
		if v := tag.KeyVersion(n); v != 2 {
			t.Fatalf("key %d has version %d", n, v)
		}
	}
	if res.From != 1 || res.To != 2 || writes != 1 || fmt.Sprint(res.Moved) != "[1 2 3 4 0]" || res.AlreadyDone {
		t.Fatalf("result %+v, %d journal writes", res, writes)
	}
	if _, err := job(t, d2, tag, true).Template.Verify(res.URL, d2); err != nil {
		t.Fatalf("read-back url does not verify with version 2: %v", err)
	}
	if s := sum(tag.Snapshot().TotFailCtr); s != 0 {
		t.Fatalf("%d failed authentications", s)
	}
	// Presented again: done, nothing written, nothing tried.
	res, err = encoder.Rekey(context.Background(), present(t, tag), rekeyJob(t, d1, d2, tag, &writes), encoder.Options{})
	if err != nil || !res.AlreadyDone || writes != 1 {
		t.Fatalf("second presentation: %+v %v (journal writes %d)", res, err, writes)
	}
}

// TestRekeyRefusesWhatItCannotProve: a tag the journal refuses, and a tag
// whose key versions are not ours, are left untouched with no
// authentication tried and nothing journaled.
func TestRekeyRefusesWhatItCannotProve(t *testing.T) {
	d1, d2, d3 := deriver(t, masterHex, 1), deriver(t, masterHex, 2), deriver(t, masterHex, 3)
	errNot := errors.New("not bound here")
	for name, tc := range map[string]struct {
		bound encoder.Bound
		want  error
	}{
		"journal refuses": {func(context.Context, []byte) (*keys.Deriver, error) { return nil, errNot }, errNot},
		"other version":   {boundAt(d3), encoder.ErrForeignTag},
	} {
		t.Run(name, func(t *testing.T) {
			tag := personalised(t, d1)
			var writes int
			j := rekeyJob(t, d1, d2, tag, &writes)
			j.Bound = tc.bound
			if _, err := encoder.Rekey(context.Background(), present(t, tag), j, encoder.Options{}); !errors.Is(err, tc.want) {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
			if writes != 0 || !tag.IsPersonalisedWith(keysOf(t, 1)) {
				t.Fatal("the refused tag was touched or journaled")
			}
			if s := tag.Snapshot().TotFailCtr; sum(s) != 0 {
				t.Fatalf("authentications failed: %v", s)
			}
		})
	}
}

// tornTwice runs flow once with the tag leaving after k exchanges (or
// during the k+1-th), then again on a fresh presentation, and returns the
// second result.
func tornTwice(t *testing.T, tag *sim.Tag, during bool, k int, flow func(reader.Card) (encoder.LifeResult, error)) encoder.LifeResult {
	t.Helper()
	r := sim.NewReader("sim0")
	r.Present(tag)
	if during {
		tag.RemoveDuring(k + 1)
	} else {
		tag.RemoveAfter(k)
	}
	card, _ := r.WaitTag(context.Background())
	if _, err := flow(card); !errors.Is(err, reader.ErrTagRemoved) {
		t.Fatalf("first attempt: %v, want the tag removed", err)
	}
	before := tag.Snapshot().TotFailCtr
	r.Present(tag)
	card, _ = r.WaitTag(context.Background())
	ac := &authCounter{Card: card}
	res, err := flow(ac)
	if err != nil {
		t.Fatalf("second attempt: %v", err)
	}
	if ac.first > 1 {
		t.Fatalf("second attempt authenticated %d times", ac.first)
	}
	if s := tag.Snapshot().TotFailCtr; sum(s) != 0 || before != s {
		t.Fatalf("failed authentications: %v", s)
	}
	return res
}

// TestRekeyTornAtEveryExchange tears a rekey after (and during) each of
// its exchanges: the next presentation finishes it, with the new keys on
// the tag and no failed authentication.
func TestRekeyTornAtEveryExchange(t *testing.T) {
	d1, d2 := deriver(t, masterHex, 1), deriver(t, masterHex, 2)
	want := keysOf(t, 2)
	// Without a reader UID (as through pcscd and vpcd) the flow learns it
	// from the SUN message, the tag's version or its PICCData.
	for _, withUID := range []bool{true, false} {
		mk := func(tag *sim.Tag, writes *int) encoder.RekeyJob {
			j := rekeyJob(t, d1, d2, tag, writes)
			if !withUID {
				j.ReaderUID = nil
			}
			return j
		}
		var writes int
		probe := personalised(t, d1)
		clean, err := encoder.Rekey(context.Background(), present(t, probe), mk(probe, &writes), encoder.Options{})
		if err != nil {
			t.Fatal(err)
		}
		for _, during := range []bool{false, true} {
			for k := 0; k < clean.Exchanges; k++ {
				t.Run(fmt.Sprintf("uid=%v/during=%v/after=%d", withUID, during, k), func(t *testing.T) {
					tag := personalised(t, d1)
					var writes int
					tornTwice(t, tag, during, k, func(c reader.Card) (encoder.LifeResult, error) {
						return encoder.Rekey(context.Background(), c, mk(tag, &writes), encoder.Options{})
					})
					if !tag.IsPersonalisedWith(want) {
						t.Fatal("tag not on version 2 after the second attempt")
					}
					phoneRead(t, present(t, tag))
				})
			}
		}
	}
}

// TestResetToFactory: a personalised tag is reset to the factory state,
// and a second presentation finds it done without a key tried.
func TestResetToFactory(t *testing.T) {
	d1 := deriver(t, masterHex, 1)
	tag := personalised(t, d1)
	var writes int
	res, err := encoder.Reset(context.Background(), present(t, tag), resetJob(t, d1, tag, &writes), encoder.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !tag.IsReclaimed() || writes != 1 || res.From != 1 || res.AlreadyDone {
		t.Fatalf("not reclaimed: %+v (journal writes %d)", res, writes)
	}
	res, err = encoder.Reset(context.Background(), present(t, tag), resetJob(t, d1, tag, &writes), encoder.Options{})
	if err != nil || !res.AlreadyDone || writes != 1 {
		t.Fatalf("second presentation: %+v %v", res, err)
	}
	// Factory again: personalisation takes it like a new tag.
	if _, err := encoder.Personalise(context.Background(), present(t, tag), job(t, d1, tag, true), encoder.Options{}); err != nil {
		t.Fatalf("personalising the reclaimed tag: %v", err)
	}
	if s := sum(tag.Snapshot().TotFailCtr); s != 0 {
		t.Fatalf("%d failed authentications", s)
	}
}

// TestResetTornAtEveryExchange tears a reset after (and during) each of
// its exchanges: the next presentation finishes it with no failed
// authentication.
func TestResetTornAtEveryExchange(t *testing.T) {
	d1 := deriver(t, masterHex, 1)
	for _, withUID := range []bool{true, false} {
		mk := func(tag *sim.Tag, writes *int) encoder.ResetJob {
			j := resetJob(t, d1, tag, writes)
			if !withUID {
				j.ReaderUID = nil
			}
			return j
		}
		var writes int
		probe := personalised(t, d1)
		clean, err := encoder.Reset(context.Background(), present(t, probe), mk(probe, &writes), encoder.Options{})
		if err != nil {
			t.Fatal(err)
		}
		for _, during := range []bool{false, true} {
			for k := 0; k < clean.Exchanges; k++ {
				t.Run(fmt.Sprintf("uid=%v/during=%v/after=%d", withUID, during, k), func(t *testing.T) {
					tag := personalised(t, d1)
					var writes int
					tornTwice(t, tag, during, k, func(c reader.Card) (encoder.LifeResult, error) {
						return encoder.Reset(context.Background(), c, mk(tag, &writes), encoder.Options{})
					})
					if !tag.IsReclaimed() {
						t.Fatal("tag not factory after the second attempt")
					}
				})
			}
		}
	}
}

// authCounter counts the AuthenticateEV2First commands sent through it.
type authCounter struct {
	reader.Card
	first int
}

func (a *authCounter) Transmit(ctx context.Context, capdu []byte) ([]byte, error) {
	if len(capdu) > 1 && capdu[0] == 0x90 && capdu[1] == 0x71 {
		a.first++
	}
	return a.Card.Transmit(ctx, capdu)
}

// TestOneAuthenticationPerFlow: a rekey and a reset each authenticate
// once (with the one key 0 the versions name), and a finished tag
// presented again not at all.
func TestOneAuthenticationPerFlow(t *testing.T) {
	d1, d2 := deriver(t, masterHex, 1), deriver(t, masterHex, 2)
	tag := personalised(t, d1)
	var writes int
	for i, want := range []int{1, 0} {
		ac := &authCounter{Card: present(t, tag)}
		if _, err := encoder.Rekey(context.Background(), ac, rekeyJob(t, d1, d2, tag, &writes), encoder.Options{}); err != nil || ac.first != want {
			t.Fatalf("rekey %d: %d authentications, want %d (%v)", i, ac.first, want, err)
		}
	}
	for i, want := range []int{1, 0} {
		ac := &authCounter{Card: present(t, tag)}
		if _, err := encoder.Reset(context.Background(), ac, resetJob(t, d2, tag, &writes), encoder.Options{}); err != nil || ac.first != want {
			t.Fatalf("reset %d: %d authentications, want %d (%v)", i, ac.first, want, err)
		}
	}
}
