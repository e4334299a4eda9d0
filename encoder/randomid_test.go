package encoder_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/tagline-station/tagline/encoder"
	"github.com/tagline-station/tagline/reader"
	"github.com/tagline-station/tagline/reader/sim"
	"github.com/tagline-station/tagline/sdm"
)

// ridJob is a random-ID job; withUID gives it the UID the reader saw at
// this activation (a reader behind vpcd reports none).
func ridJob(t testing.TB, tag *sim.Tag, withUID bool) encoder.Job {
	j := job(t, deriver(t, masterHex, 1), tag, withUID)
	j.RandomID = true
	return j
}

// A random-ID job keys the tag by its real UID, turns random ID on, and
// from the next activation the tag answers with a random UID while a
// phone's SUN message still names the real one.
func TestRandomIDJob(t *testing.T) {
	tag := sim.New(sim.Options{UID: testUID})
	card := present(t, tag)
	res, err := encoder.Personalise(context.Background(), card, ridJob(t, tag, true), encoder.Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := independentKeySet(t)
	if !tag.RandomID() || !tag.IsPersonalisedWith(want) || !bytes.Equal(res.UID, testUID) {
		t.Fatalf("random id %v, keys %v, uid %X", tag.RandomID(), tag.IsPersonalisedWith(want), res.UID)
	}
	card = present(t, tag)
	first := card.UID()
	if !encoder.IsRandomUID(first) {
		t.Fatalf("anticollision uid %X is not random", first)
	}
	tp, _ := sdm.ParseTemplate(template)
	if v, err := tp.Verify(phoneRead(t, card), fixedLookup{want[1], want[2]}); err != nil || !bytes.Equal(v.UID, testUID) {
		t.Fatalf("phone read: %+v %v", v, err)
	}
	if again := present(t, tag).UID(); bytes.Equal(again, first) && bytes.Equal(present(t, tag).UID(), first) {
		t.Fatalf("three activations gave the same random uid %X", first)
	}
	// Presented again with its random UID: ours and done, nothing sent
	// beyond the reads and one authentication.
	card = present(t, tag)
	if _, err := encoder.Personalise(context.Background(), card, ridJob(t, tag, true), encoder.Options{}); !errors.Is(err, encoder.ErrAlreadyOurs) {
		t.Fatalf("second presentation: %v", err)
	}
	if n := sum(tag.Snapshot().TotFailCtr); n != 0 {
		t.Fatalf("%d failed authentications", n)
	}
}

// The tag is taken away after every exchange of a random-ID job in turn:
// the next presentation finishes it, random ID ends on, and recovery
// spends no failed authentication, whether the reader reports the UID it
// saw or none.
func TestRandomIDTornAtEveryExchange(t *testing.T) {
	want := independentKeySet(t)
	probe := sim.New(sim.Options{UID: testUID})
	res, err := encoder.Personalise(context.Background(), present(t, probe), ridJob(t, probe, true), encoder.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, withUID := range []bool{true, false} {
		for k := 0; k < res.Exchanges; k++ {
			t.Run(fmt.Sprintf("reader-uid=%v/after=%d", withUID, k), func(t *testing.T) {
				tag := sim.New(sim.Options{UID: testUID})
				r := sim.NewReader("sim0")
				r.Present(tag)
				tag.RemoveAfter(k)
				card, _ := r.WaitTag(context.Background())
				if _, err := encoder.Personalise(context.Background(), card, ridJob(t, tag, withUID), encoder.Options{}); !errors.Is(err, reader.ErrTagRemoved) {
					t.Fatalf("first attempt: %v", err)
				}
				r.Present(tag)
				card, _ = r.WaitTag(context.Background())
				if _, err := encoder.Personalise(context.Background(), card, ridJob(t, tag, withUID), encoder.Options{}); err != nil && !errors.Is(err, encoder.ErrAlreadyOurs) {
					t.Fatalf("second attempt: %v", err)
				}
				if !tag.IsPersonalisedWith(want) || !tag.RandomID() {
					t.Fatalf("not finished: keys %v, random id %v", tag.IsPersonalisedWith(want), tag.RandomID())
				}
				if n := sum(tag.Snapshot().TotFailCtr); n != 0 {
					t.Fatalf("%d failed authentications during recovery", n)
				}
			})
		}
	}
}
