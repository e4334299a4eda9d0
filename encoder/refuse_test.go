package encoder_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/tagline-station/tagline/internal/transcript"

	"github.com/tagline-station/tagline/apdu"
	"github.com/tagline-station/tagline/encoder"
	"github.com/tagline-station/tagline/keys"
	"github.com/tagline-station/tagline/reader/sim"
	"github.com/tagline-station/tagline/sdm"
)

const otherMasterHex = "00112233445566778899AABBCCDDEEFF"

// durable is the part of a tag's state that a refusal must leave alone:
// keys, key versions, failure counters, file contents and settings. The
// SDM read counter is not in it: any unauthenticated read of the NDEF
// file moves it, a phone's too.
type durable struct {
	kcv      [5]string
	versions [5]byte
	totFail  [5]int
	files    [][]byte
	settings []sdm.FileSettings
}

func durableState(tag *sim.Tag) durable {
	s := tag.Snapshot()
	d := durable{kcv: s.KeyKCV, versions: s.KeyVersion, totFail: s.TotFailCtr}
	for _, f := range s.Files {
		d.files = append(d.files, f.Data)
		d.settings = append(d.settings, f.Settings)
	}
	return d
}

func (d durable) equal(o durable) bool {
	if d.kcv != o.kcv || d.versions != o.versions || d.totFail != o.totFail || len(d.files) != len(o.files) {
		return false
	}
	for i := range d.files {
		if !bytes.Equal(d.files[i], o.files[i]) || d.settings[i] != o.settings[i] {
			return false
		}
	}
	return true
}

// authAttempts counts the AuthenticateEV2First and NonFirst commands the
// encoder sent.
func authAttempts(rec *transcript.Recorder) int {
	n := 0
	for _, e := range rec.Transcript().Exchanges {
		if len(e.C) > 1 && e.C[0] == apdu.ClaNative && (e.C[1] == apdu.InsAuthenticateEV2First || e.C[1] == apdu.InsAuthenticateEV2NonFirst) {
			n++
		}
	}
	return n
}

// noRecord is a journal that knows nothing of any tag.
func noRecord(context.Context, []byte) (encoder.Known, error) { return encoder.Known{}, nil }

// tornAtOtherStation personalises a factory tag with another master key
// (same key version) and pulls it after ChangeKey 3: keys 1 to 3 carry
// version 1 and the other station's keys, keys 0 and 4 are factory.
func tornAtOtherStation(t *testing.T) (*sim.Tag, *sim.Reader) {
	t.Helper()
	// Pull the tag after ever more exchanges until it is in that state
	// (after ChangeKey 3), so that the test does not hang on the flow's
	// exchange count.
	for k := 1; k < 20; k++ {
		tag := sim.New(sim.Options{UID: testUID})
		r := sim.NewReader("sim0")
		r.Present(tag)
		tag.RemoveAfter(k)
		card, _ := r.WaitTag(context.Background())
		if _, err := encoder.Personalise(context.Background(), card, job(t, deriver(t, otherMasterHex, 1), tag, true), encoder.Options{}); err == nil {
			break
		}
		if tag.Snapshot().KeyVersion == [5]byte{0, 1, 1, 1, 0} {
			r.Present(tag)
			return tag, r
		}
	}
	t.Fatal("no tear left keys 1-3 at version 1 and keys 0 and 4 factory")
	return nil, nil
}

// TestHalfKeyedTagFromAnotherStationIsRefusedUntouched is issue 10 item
// 6: a tag torn at a station with another master key and the same key
// version must not be "finished" here (that mixed two stations' keys for
// good). Without an intent in our journal it is refused before any
// authentication when the reader gives the UID, and before any write when
// the UID has to be asked of the tag.
func TestHalfKeyedTagFromAnotherStationIsRefusedUntouched(t *testing.T) {
	for _, withUID := range []bool{true, false} {
		tag, r := tornAtOtherStation(t)
		before := durableState(tag)
		card, _ := r.WaitTag(context.Background())
		rec := transcript.NewRecorder(card)
		j := job(t, deriver(t, masterHex, 1), tag, withUID)
		asked := 0
		j.Journal = func(_ context.Context, uid []byte) (encoder.Known, error) {
			asked++
			if !bytes.Equal(uid, testUID) {
				t.Errorf("journal asked about %X", uid)
			}
			return encoder.Known{}, nil
		}
		j.BeforeWrite = func(context.Context, []byte, encoder.Found) error {
			t.Error("the journal hook ran for another station's tag")
			return nil
		}
		res, err := encoder.Personalise(context.Background(), rec, j, encoder.Options{})
		if !errors.Is(err, encoder.ErrHalfKeyed) || !strings.Contains(err.Error(), "keys 1, 2, 3") {
			t.Fatalf("reader uid %v: %v", withUID, err)
		}
		if asked != 1 || !bytes.Equal(res.UID, testUID) {
			t.Errorf("reader uid %v: journal asked %d times, result uid %X", withUID, asked, res.UID)
		}
		if !durableState(tag).equal(before) {
			t.Fatalf("reader uid %v: the tag was changed", withUID)
		}
		// With the UID from the reader nothing is tried at all; asking
		// the tag for its UID takes the factory key 0, which its version
		// names and which opens it: no failed attempt either way.
		want := 0
		if !withUID {
			want = 1
		}
		if n := authAttempts(rec); n != want {
			t.Errorf("reader uid %v: %d authentication attempts, want %d", withUID, n, want)
		}
		if s := sum(tag.Snapshot().TotFailCtr); s != 0 {
			t.Errorf("reader uid %v: %d failed authentications", withUID, s)
		}
	}
}

// TestHalfKeyedTagWithOurIntentIsFinished: the same state from our own
// station's tear, with our intent in the journal, is finished.
func TestHalfKeyedTagWithOurIntentIsFinished(t *testing.T) {
	d := deriver(t, masterHex, 1)
	tag := sim.New(sim.Options{UID: testUID})
	r := sim.NewReader("sim0")
	r.Present(tag)
	tag.RemoveAfter(10) // after ChangeKey 3
	card, _ := r.WaitTag(context.Background())
	if _, err := encoder.Personalise(context.Background(), card, job(t, d, tag, true), encoder.Options{}); err == nil {
		t.Fatal("not torn")
	}
	if v := tag.Snapshot().KeyVersion; v != [5]byte{0, 1, 1, 1, 0} {
		t.Fatalf("torn tag key versions %v", v)
	}
	r.Present(tag)
	card, _ = r.WaitTag(context.Background())
	j := job(t, d, tag, true)
	j.Journal = func(context.Context, []byte) (encoder.Known, error) { return encoder.Known{Intent: true}, nil }
	res, err := encoder.Personalise(context.Background(), card, j, encoder.Options{})
	if err != nil || res.Found != encoder.FoundPartial {
		t.Fatalf("%v, found %s", err, res.Found)
	}
	ks, _ := d.Tag(testUID)
	if !tag.IsPersonalisedWith(ks.Keys) || sum(tag.Snapshot().TotFailCtr) != 0 {
		t.Fatal("not finished with our keys, or an attempt failed")
	}
}

// foreignTag is a tag personalised by another system: its own keys, all
// at version, and ndef as its NDEF file content.
func foreignTag(t *testing.T, version byte, ndef []byte) *sim.Tag {
	t.Helper()
	p := sim.Personalisation{NDEF: ndef}
	for n := range p.Keys {
		p.Keys[n], _ = keys.NewKey(bytes.Repeat([]byte{byte(0xA0 + n)}, 16))
		p.Versions[n] = version
	}
	tag, err := sim.NewPersonalised(sim.Options{UID: testUID}, p)
	if err != nil {
		t.Fatal(err)
	}
	return tag
}

// foreignNDEF is another system's URL record.
func foreignNDEF(t *testing.T) []byte {
	t.Helper()
	tp, err := sdm.ParseTemplate("https://other.example/verify?d={picc}&s={mac}")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := tp.NDEF(nil)
	return b
}

// TestForeignTagsSpendNoAuthentication is issue 10 items 6 and 10: a
// foreign tag whose key 0 is not at the factory version costs no
// authentication attempt, whatever its NDEF file holds, and a foreign tag
// that happens to use our key version is "another system", not a reason
// to check our master key file.
func TestForeignTagsSpendNoAuthentication(t *testing.T) {
	cases := []struct {
		name    string
		version byte
		ndef    func(*testing.T) []byte
		want    error
	}{
		{"empty ndef, version 7", 7, func(*testing.T) []byte { return nil }, encoder.ErrForeignTag},
		{"empty ndef, our version", 1, func(*testing.T) []byte { return nil }, encoder.ErrForeignTag},
		{"foreign url, our version", 1, foreignNDEF, encoder.ErrForeignTag},
		{"foreign url, version 7", 7, foreignNDEF, encoder.ErrForeignTag},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tag := foreignTag(t, c.version, c.ndef(t))
			before := durableState(tag)
			rec := transcript.NewRecorder(present(t, tag))
			j := job(t, deriver(t, masterHex, 1), tag, true)
			j.Journal = noRecord
			_, err := encoder.Personalise(context.Background(), rec, j, encoder.Options{})
			if !errors.Is(err, c.want) || errors.Is(err, encoder.ErrWrongKey) {
				t.Fatalf("%v, want %v", err, c.want)
			}
			if n := authAttempts(rec); n != 0 {
				t.Errorf("%d authentication attempts", n)
			}
			if !durableState(tag).equal(before) {
				t.Fatal("the tag was changed")
			}
		})
	}
}
