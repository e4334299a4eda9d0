package encoder_test

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/tagline-station/tagline/internal/transcript"

	"github.com/tagline-station/tagline/apdu"
	"github.com/tagline-station/tagline/encoder"
	"github.com/tagline-station/tagline/keys"
	"github.com/tagline-station/tagline/reader"
	"github.com/tagline-station/tagline/reader/sim"
	"github.com/tagline-station/tagline/sdm"
)

var update = flag.Bool("update", false, "rewrite recorded transcripts")

const (
	masterHex = "C9EB67DF090AFF47C3B19A2516680B9D"
	template  = "https://brand.example/t?picc_data={picc}&cmac={mac}"
)

// seeded is a deterministic random source, so tag and encoder draw the
// same numbers on every run and transcripts replay byte for byte.
type seeded struct{ r *rand.ChaCha8 }

func newSeeded(seed byte) *seeded            { return &seeded{rand.NewChaCha8([32]byte{seed})} }
func (s *seeded) Read(p []byte) (int, error) { return s.r.Read(p) }

func deriver(t testing.TB, masterHex string, version byte) *keys.Deriver {
	t.Helper()
	b, _ := hex.DecodeString(masterHex)
	m, err := keys.NewMaster(b)
	if err != nil {
		t.Fatal(err)
	}
	d, err := keys.NewDeriver(keys.SchemeTagline, m, version)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func job(t testing.TB, d *keys.Deriver, tag *sim.Tag, withUID bool) encoder.Job {
	t.Helper()
	tp, err := sdm.ParseTemplate(template)
	if err != nil {
		t.Fatal(err)
	}
	j := encoder.Job{Deriver: d, Template: tp}
	if withUID {
		j.ReaderUID = tag.UID()
	}
	return j
}

var testUID = []byte{0x04, 0x5A, 0x11, 0x22, 0x33, 0x44, 0x80}

// present puts a tag in a simulated reader and returns the connected card.
func present(t testing.TB, tag *sim.Tag) reader.Tag {
	t.Helper()
	r := sim.NewReader("sim0")
	r.Present(tag)
	c, err := r.WaitTag(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// independentKeys re-derives a tag's keys from the README's description
// with its own AES-CMAC subkeys and CBC-MAC, sharing no code with package
// keys, so that an error in keys cannot hide behind agreement with itself.
func independentKeys(t testing.TB, masterHex string, uid []byte, version byte) [5][]byte {
	t.Helper()
	mk, _ := hex.DecodeString(masterHex)
	blk, _ := aes.NewCipher(mk)
	shift := func(in []byte) []byte {
		out := make([]byte, 16)
		for i := 0; i < 16; i++ {
			out[i] = in[i] << 1
			if i < 15 {
				out[i] |= in[i+1] >> 7
			}
		}
		if in[0]&0x80 != 0 {
			out[15] ^= 0x87
		}
		return out
	}
	l := make([]byte, 16)
	blk.Encrypt(l, l)
	k1 := shift(l)
	k2 := shift(k1)
	an10922 := func(m []byte) []byte {
		d := append([]byte{0x01}, m...)
		sub := k1
		if len(d) < 32 {
			d = append(d, 0x80)
			for len(d) < 32 {
				d = append(d, 0)
			}
			sub = k2
		}
		for i := 0; i < 16; i++ {
			d[16+i] ^= sub[i]
		}
		out := make([]byte, 32)
		cipher.NewCBCEncrypter(blk, make([]byte, 16)).CryptBlocks(out, d)
		return out[16:]
	}
	var ks [5][]byte
	for n := 0; n < 5; n++ {
		if n == 1 {
			ks[n] = an10922([]byte{'T', 'L', 'M', 'E', 'T', 'A', version})
			continue
		}
		ks[n] = an10922(append(append([]byte{}, uid...), 'T', 'L', 'K', byte(n), version))
	}
	return ks
}

type fixedLookup struct{ meta, file keys.Key }

func (f fixedLookup) MetaRead() keys.Key                { return f.meta }
func (f fixedLookup) FileRead([]byte) (keys.Key, error) { return f.file, nil }

// phoneRead reads the NDEF file as a phone does.
func phoneRead(t testing.TB, c reader.Card) string {
	t.Helper()
	url, err := encoder.New(c, encoder.Options{}).ReadURL(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return url
}

func TestPersonaliseFactoryTag(t *testing.T) {
	for _, withUID := range []bool{true, false} {
		t.Run(fmt.Sprintf("reader-uid=%v", withUID), func(t *testing.T) {
			tag := sim.New(sim.Options{UID: testUID})
			card := present(t, tag)
			d := deriver(t, masterHex, 1)
			var hooked []byte
			j := job(t, d, tag, withUID)
			j.BeforeWrite = func(_ context.Context, uid []byte, f encoder.Found) error {
				if f != encoder.FoundFactory {
					t.Errorf("found %s", f)
				}
				if tag.Snapshot().FactoryFresh != true {
					t.Errorf("the journal hook ran after the tag was written")
				}
				hooked = uid
				return nil
			}
			res, err := encoder.Personalise(context.Background(), card, j, encoder.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(res.UID, testUID) || !bytes.Equal(hooked, testUID) {
				t.Fatalf("uid %X, hook saw %X", res.UID, hooked)
			}
			// The fewest exchanges: see BenchmarkPersonalise. Key 0's
			// version is read even on an empty NDEF file, so that a
			// foreign key 0 costs no authentication attempt.
			want := 14
			if !withUID {
				want = 15 // GetCardUID
			}
			if res.Exchanges != want {
				t.Errorf("%d exchanges, want %d", res.Exchanges, want)
			}
			if tag.ChainedWrites() != 0 {
				t.Errorf("%d chained writes: writes must fit one frame", tag.ChainedWrites())
			}
			// Keys re-derived independently from the master key and UID.
			ind := independentKeys(t, masterHex, testUID, 1)
			var want5 [5]keys.Key
			for n := range ind {
				want5[n], _ = keys.NewKey(ind[n])
				if tag.KeyVersion(n) != 1 {
					t.Errorf("key %d version %d", n, tag.KeyVersion(n))
				}
			}
			if !tag.IsPersonalisedWith(want5) {
				t.Fatal("the tag does not hold the independently derived keys")
			}
			// Access rights: read free, write by key 3, nothing permanent.
			f, _ := tag.File(apdu.FileNDEF)
			if a := f.Settings.Access; a.Read != sdm.AccessFree || a.Write != 3 || a.ReadWrite != 3 || a.Change != 0 {
				t.Errorf("ndef access %v", a)
			}
			// A phone's read verifies with the independent keys, and the
			// counter has moved past the encoder's own read-back.
			url := phoneRead(t, card)
			tp, _ := sdm.ParseTemplate(template)
			v, err := tp.Verify(url, fixedLookup{want5[1], want5[2]})
			if err != nil {
				t.Fatalf("phone read %s: %v", url, err)
			}
			if !bytes.Equal(v.UID, testUID) || uint32(v.Ctr) <= res.ReadCtr {
				t.Fatalf("phone read uid %X ctr %d after read-back ctr %d", v.UID, v.Ctr, res.ReadCtr)
			}
		})
	}
}

func TestAlreadyOursIsReportedNotRekeyed(t *testing.T) {
	tag := sim.New(sim.Options{UID: testUID})
	card := present(t, tag)
	d := deriver(t, masterHex, 1)
	if _, err := encoder.Personalise(context.Background(), card, job(t, d, tag, true), encoder.Options{}); err != nil {
		t.Fatal(err)
	}
	before := tag.Snapshot()
	j := job(t, d, tag, true)
	j.BeforeWrite = func(context.Context, []byte, encoder.Found) error {
		t.Error("journal hook ran for a finished tag")
		return nil
	}
	res, err := encoder.Personalise(context.Background(), card, j, encoder.Options{})
	if !errors.Is(err, encoder.ErrAlreadyOurs) || res.Found != encoder.FoundOurs || !bytes.Equal(res.UID, testUID) {
		t.Fatalf("second run: %v %+v", err, res)
	}
	after := tag.Snapshot()
	if after.KeyKCV != before.KeyKCV || after.TotFailCtr != before.TotFailCtr {
		t.Fatalf("keys or fail counters changed: %v -> %v", before.TotFailCtr, after.TotFailCtr)
	}
	if res.URL == "" {
		t.Error("no sun url reported for the finished tag")
	}
}

func TestReencodeRewritesTemplateKeepsKeys(t *testing.T) {
	tag := sim.New(sim.Options{UID: testUID})
	card := present(t, tag)
	d := deriver(t, masterHex, 1)
	if _, err := encoder.Personalise(context.Background(), card, job(t, d, tag, true), encoder.Options{}); err != nil {
		t.Fatal(err)
	}
	keysBefore := tag.Snapshot().KeyKCV
	j := job(t, d, tag, true)
	j.Reencode = true
	j.Template, _ = sdm.ParseTemplate("https://other.example/x?e={picc}&enc={enc}&c={mac}")
	j.EncData = []byte("SKU-0000-0000-01")
	res, err := encoder.Personalise(context.Background(), card, j, encoder.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Found != encoder.FoundOurs || tag.Snapshot().KeyKCV != keysBefore {
		t.Fatalf("found %s; keys changed: %v", res.Found, tag.Snapshot().KeyKCV != keysBefore)
	}
	url := phoneRead(t, card)
	v, err := j.Template.Verify(url, d)
	if err != nil || string(v.FileData) != "SKU-0000-0000-01" {
		t.Fatalf("re-encoded url %s: %v %q", url, err, v.FileData)
	}
	if s := sum(tag.Snapshot().TotFailCtr); s != 0 {
		t.Fatalf("%d failed authentications", s)
	}
}

func TestWrongMasterKeySpendsAtMostOneAttempt(t *testing.T) {
	tag := sim.New(sim.Options{UID: testUID})
	card := present(t, tag)
	if _, err := encoder.Personalise(context.Background(), card, job(t, deriver(t, masterHex, 1), tag, true), encoder.Options{}); err != nil {
		t.Fatal(err)
	}
	other := deriver(t, "00112233445566778899AABBCCDDEEFF", 1)
	for _, withUID := range []bool{false, true} {
		before := tag.Snapshot().TotFailCtr
		_, err := encoder.Personalise(context.Background(), card, job(t, other, tag, withUID), encoder.Options{})
		if !errors.Is(err, encoder.ErrWrongKey) || !strings.Contains(err.Error(), "another master key") {
			t.Fatalf("reader uid %v: %v", withUID, err)
		}
		// Our template's URL that does not verify proves keys 1 and 2
		// are not ours, so key 0 (changed after them) is not either:
		// there is no candidate to try at all.
		if spent := sum(tag.Snapshot().TotFailCtr) - sum(before); spent != 0 {
			t.Errorf("reader uid %v: %d failed authentications", withUID, spent)
		}
	}
}

func sum(a [5]int) (s int) {
	for _, v := range a {
		s += v
	}
	return s
}

// TestOurOlderKeyVersionIsOursWithoutAuthenticating: a tag of ours from a
// batch of key version 1 shown to a batch of version 2 is recognised by
// its SUN message as ours (not "another system"), without an attempt.
func TestOurOlderKeyVersionIsOursWithoutAuthenticating(t *testing.T) {
	tag := sim.New(sim.Options{UID: testUID})
	card := present(t, tag)
	if _, err := encoder.Personalise(context.Background(), card, job(t, deriver(t, masterHex, 1), tag, true), encoder.Options{}); err != nil {
		t.Fatal(err)
	}
	for _, withUID := range []bool{true, false} {
		res, err := encoder.Personalise(context.Background(), card, job(t, deriver(t, masterHex, 2), tag, withUID), encoder.Options{})
		if !errors.Is(err, encoder.ErrOtherVersion) || errors.Is(err, encoder.ErrForeignTag) || sum(tag.Snapshot().TotFailCtr) != 0 {
			t.Fatalf("reader uid %v: %v, fail counters %v", withUID, err, tag.Snapshot().TotFailCtr)
		}
		if !bytes.Equal(res.UID, testUID) || res.TagKeyVersion != 1 {
			t.Fatalf("reader uid %v: uid %X, tag key version %d", withUID, res.UID, res.TagKeyVersion)
		}
	}
	// Another master key at version 1 is not ours at any version.
	_, err := encoder.Personalise(context.Background(), card, job(t, deriver(t, "00112233445566778899AABBCCDDEEFF", 2), tag, true), encoder.Options{})
	if !errors.Is(err, encoder.ErrForeignTag) || sum(tag.Snapshot().TotFailCtr) != 0 {
		t.Fatalf("other master: %v, fail counters %v", err, tag.Snapshot().TotFailCtr)
	}
}

func TestForeignKeysStopAfterOneAttempt(t *testing.T) {
	var p sim.Personalisation
	for n := range p.Keys {
		p.Keys[n], _ = keys.NewKey(bytes.Repeat([]byte{byte(0xA0 + n)}, 16))
	}
	tag, err := sim.NewPersonalised(sim.Options{UID: testUID}, p)
	if err != nil {
		t.Fatal(err)
	}
	card := present(t, tag)
	_, err = encoder.Personalise(context.Background(), card, job(t, deriver(t, masterHex, 1), tag, true), encoder.Options{})
	if !errors.Is(err, encoder.ErrForeignTag) {
		t.Fatalf("%v", err)
	}
	if s := sum(tag.Snapshot().TotFailCtr); s != 1 {
		t.Fatalf("%d failed authentications, want 1", s)
	}
}

func TestBadJobs(t *testing.T) {
	tag := sim.New(sim.Options{UID: testUID})
	card := present(t, tag)
	if _, err := encoder.Personalise(context.Background(), card, job(t, deriver(t, masterHex, 0), tag, true), encoder.Options{}); !errors.Is(err, encoder.ErrJob) {
		t.Fatalf("version 0: %v", err)
	}
	if tag.Snapshot().Exchanges != 0 {
		t.Fatal("a bad job talked to the tag")
	}
}

// TestTornAtEveryExchange pulls the tag after each exchange of the flow,
// in both ways a tag can leave (before the command reaches it, and after
// it ran but before its answer arrived), then presents it again: the
// second attempt must finish the tag with our keys, whatever state the
// first left it in.
func TestTornAtEveryExchange(t *testing.T) {
	d := deriver(t, masterHex, 1)
	ind := independentKeys(t, masterHex, testUID, 1)
	var want [5]keys.Key
	for n := range ind {
		want[n], _ = keys.NewKey(ind[n])
	}
	for _, during := range []bool{false, true} {
		for k := 0; k < 13; k++ {
			t.Run(fmt.Sprintf("during=%v/after=%d", during, k), func(t *testing.T) {
				tag := sim.New(sim.Options{UID: testUID})
				r := sim.NewReader("sim0")
				r.Present(tag)
				if during {
					tag.RemoveDuring(k + 1)
				} else {
					tag.RemoveAfter(k)
				}
				card, _ := r.WaitTag(context.Background())
				res, err := encoder.Personalise(context.Background(), card, job(t, d, tag, true), encoder.Options{})
				if err == nil {
					t.Fatalf("no error although the tag left after %d exchanges (%d used)", k, res.Exchanges)
				}
				if !errors.Is(err, reader.ErrTagRemoved) {
					t.Fatalf("error %v does not say the tag was removed", err)
				}
				var se *encoder.StepError
				if !errors.As(err, &se) {
					t.Fatalf("error %v names no step", err)
				}
				r.Present(tag)
				card, _ = r.WaitTag(context.Background())
				res, err = encoder.Personalise(context.Background(), card, job(t, d, tag, true), encoder.Options{})
				if err != nil && !errors.Is(err, encoder.ErrAlreadyOurs) {
					t.Fatalf("second attempt: %v", err)
				}
				if !tag.IsPersonalisedWith(want) {
					t.Fatalf("tag not finished after second attempt (found %s)", res.Found)
				}
				if s := sum(tag.Snapshot().TotFailCtr); s != 0 {
					t.Fatalf("%d failed authentications during recovery", s)
				}
				phoneRead(t, card)
			})
		}
	}
}

// TestCorruptResponse flips a byte of each response in turn. Whatever the
// flow makes of it, it must never leave the tag half-done: either it
// finishes, or it fails and a second attempt finishes.
func TestCorruptResponse(t *testing.T) {
	d := deriver(t, masterHex, 1)
	ind := independentKeys(t, masterHex, testUID, 1)
	var want [5]keys.Key
	for n := range ind {
		want[n], _ = keys.NewKey(ind[n])
	}
	failed := 0
	for k := 1; k <= 13; k++ {
		tag := sim.New(sim.Options{UID: testUID})
		card := present(t, tag)
		tag.CorruptResponse(k)
		_, err := encoder.Personalise(context.Background(), card, job(t, d, tag, true), encoder.Options{})
		if err != nil {
			failed++
			if _, err := encoder.Personalise(context.Background(), card, job(t, d, tag, true), encoder.Options{}); err != nil && !errors.Is(err, encoder.ErrAlreadyOurs) {
				t.Fatalf("corrupt response %d, then: %v", k, err)
			}
		}
		if !tag.IsPersonalisedWith(want) {
			t.Fatalf("corrupt response %d left the tag unfinished (first error %v)", k, err)
		}
	}
	// MACed and encrypted answers must be caught, not believed.
	if failed < 8 {
		t.Fatalf("only %d of 13 corrupted responses were noticed", failed)
	}
}

func transcriptPath() string {
	_, f, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(f), "..", "testdata", "transcripts", "personalise-factory.json")
}

// TestTranscriptReplay replays a recorded personalisation byte for byte:
// with the same random numbers the encoder must send exactly the same
// APDUs. Run with -update to record it again from the simulator.
func TestTranscriptReplay(t *testing.T) {
	d := deriver(t, masterHex, 1)
	if *update {
		tag := sim.New(sim.Options{UID: testUID, Rand: newSeeded(2)})
		rec := transcript.NewRecorder(present(t, tag))
		if _, err := encoder.Personalise(context.Background(), rec, job(t, d, tag, true), encoder.Options{Rand: newSeeded(1)}); err != nil {
			t.Fatal(err)
		}
		if err := rec.Transcript().WriteFile(transcriptPath()); err != nil {
			t.Fatal(err)
		}
	}
	tr, err := transcript.Load(transcriptPath())
	if err != nil {
		t.Fatal(err)
	}
	rp := transcript.NewReplay(tr)
	j := job(t, d, nil, false)
	j.ReaderUID = []byte(tr.UID)
	res, err := encoder.Personalise(context.Background(), rp, j, encoder.Options{Rand: newSeeded(1)})
	if err != nil {
		t.Fatal(err)
	}
	if err := rp.Done(); err != nil {
		t.Fatal(err)
	}
	if res.Exchanges != len(tr.Exchanges) {
		t.Fatalf("%d exchanges, transcript has %d", res.Exchanges, len(tr.Exchanges))
	}
}

// BenchmarkPersonalise measures one tag through the encoder against the
// simulated tag (both sides' CPU), and, in the replay variant, the
// encoder's own CPU time per tag against a recorded transcript.
func BenchmarkPersonalise(b *testing.B) {
	d := deriver(b, masterHex, 1)
	b.Run("sim", func(b *testing.B) {
		var ex int
		for b.Loop() {
			tag := sim.New(sim.Options{UID: testUID})
			card := present(b, tag)
			res, err := encoder.Personalise(context.Background(), card, job(b, d, tag, true), encoder.Options{})
			if err != nil {
				b.Fatal(err)
			}
			ex = res.Exchanges
		}
		b.ReportMetric(float64(ex), "apdus/tag")
	})
	b.Run("encoder-only", func(b *testing.B) {
		tr, err := transcript.Load(transcriptPath())
		if err != nil {
			b.Fatal(err)
		}
		j := job(b, d, nil, false)
		j.ReaderUID = []byte(tr.UID)
		var ex int
		for b.Loop() {
			rp := transcript.NewReplay(tr)
			res, err := encoder.Personalise(context.Background(), rp, j, encoder.Options{Rand: newSeeded(1)})
			if err != nil {
				b.Fatal(err)
			}
			ex = res.Exchanges
		}
		b.ReportMetric(float64(ex), "apdus/tag")
	})
}

func TestStepErrorNamesTheStepOnce(t *testing.T) {
	e := &encoder.StepError{Step: encoder.StepChangeKey0, Err: fmt.Errorf("change key 0: %w", reader.ErrTagRemoved)}
	if got := e.Error(); got != "change key 0: tag removed" {
		t.Fatalf("%q", got)
	}
	e = &encoder.StepError{Step: encoder.StepChangeKeys, Err: fmt.Errorf("change key 3: %w", reader.ErrTagRemoved)}
	if got := e.Error(); got != "change keys: change key 3: tag removed" {
		t.Fatalf("%q", got)
	}
}
