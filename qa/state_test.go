package qa

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/tagline-station/tagline/manifest"
)

func mustLoad(t testing.TB, path string) *state {
	t.Helper()
	st, err := loadState(path)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func mustSave(t testing.TB, st *state) {
	t.Helper()
	if err := st.save(); err != nil {
		t.Fatal(err)
	}
}

func lineCount(t testing.TB, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Count(b, []byte{'\n'})
}

// A save appends what is new, and the file is rewritten only when the
// appended lines outgrow the live counters: its size and the work per
// save stay proportional to what QA saw, never to the saves made.
func TestStateAppendsAndCompacts(t *testing.T) {
	old := compactSlack
	compactSlack = 16
	t.Cleanup(func() { compactSlack = old })
	path := filepath.Join(t.TempDir(), "state.json")
	st := mustLoad(t, path)
	for k := range 100 {
		st.see(manifest.UID(fmt.Sprintf("04%012X", k)), 1, 5)
		mustSave(t, st)
	}
	// One snapshot line (written when the file was created, with the
	// first counter) and one line per counter since.
	if n := lineCount(t, path); n != 100 {
		t.Fatalf("%d lines after 100 saves of new tags", n)
	}
	if got := mustLoad(t, path).tags; !maps.EqualFunc(got, st.tags, maps.Equal) {
		t.Fatal("reloaded state differs")
	}
	// One tag read again and again: the lines outgrow the 100 live
	// counters and the file is compacted, more than once.
	compactions := 0
	for ctr := uint32(6); ctr < 6+400; ctr++ {
		before, _ := os.Stat(path)
		st.see("04000000000000", 1, ctr)
		mustSave(t, st)
		if n := lineCount(t, path); n > 1+2*100+compactSlack {
			t.Fatalf("%d lines: never compacted", n)
		}
		if after, _ := os.Stat(path); !os.SameFile(before, after) {
			compactions++
		}
	}
	if compactions != 2 {
		t.Fatalf("%d compactions in 400 saves, want 2", compactions)
	}
	again := mustLoad(t, path)
	if c, _ := again.last("04000000000000", 1); c != 405 || again.live != 100 {
		t.Fatalf("ctr %d, live %d", c, again.live)
	}
	// Nothing new, nothing written.
	before, _ := os.Stat(path)
	mustSave(t, again)
	if after, _ := os.Stat(path); !os.SameFile(before, after) || after.Size() != before.Size() {
		t.Fatal("a save with nothing new wrote the file")
	}
}

// A line torn by a crash during an append was never reported (the save
// had not returned): it is ignored, and cut before the next append. A
// damaged complete line is refused, as is a foreign file.
func TestStateTornAndDamagedLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	st := mustLoad(t, path)
	st.see("04AA", 3, 7)
	mustSave(t, st)
	st.see("04BB", 3, 9)
	mustSave(t, st)
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"uid":"04CC","seq":3,"ct`)
	f.Close()

	st = mustLoad(t, path)
	if _, ok := st.last("04CC", 3); ok || len(st.tags) != 2 {
		t.Fatalf("torn line read: %v", st.tags)
	}
	st.see("04DD", 1, 1)
	mustSave(t, st)
	raw, _ := os.ReadFile(path)
	if strings.Contains(string(raw), "04CC") || !strings.HasSuffix(string(raw), `{"uid":"04DD","seq":1,"ctr":1}`+"\n") {
		t.Fatalf("torn line kept:\n%s", raw)
	}
	if got := mustLoad(t, path); len(got.tags) != 3 {
		t.Fatalf("%v", got.tags)
	}

	lines := strings.SplitAfter(string(raw), "\n")
	lines[1] = `{"uid":"04BB","seq":3,"ctr":9` + "\n" // a complete line, damaged
	os.WriteFile(path, []byte(strings.Join(lines, "")), 0o600)
	if _, err := loadState(path); !errors.Is(err, ErrState) || !strings.Contains(err.Error(), "entry 1 is damaged") {
		t.Fatalf("damaged line: %v", err)
	}
	for _, bad := range []string{"{not json", `{"format":"tagline-qa-state/9","tags":{}}`, strings.Repeat("x", 2000)} {
		os.WriteFile(path, []byte(bad), 0o600)
		if _, err := loadState(path); !errors.Is(err, ErrState) {
			t.Fatalf("%.20q: %v", bad, err)
		}
	}
	if _, err := loadState(t.TempDir()); !errors.Is(err, ErrState) {
		t.Fatalf("a directory: %v", err)
	}
}

// A format 1 file (one JSON object) is read and rewritten as format 2 at
// the first save, keeping what it held.
func TestStateReadsFormat1(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	os.WriteFile(path, []byte(`{"format":"tagline-qa-state/1","tags":{"04AA":{"2":10,"5":3}}}`+"\n"), 0o600)
	st := mustLoad(t, path)
	if c, ok := st.last("04AA", 2); !ok || c != 10 {
		t.Fatalf("%v", st.tags)
	}
	st.see("04AA", 5, 4)
	mustSave(t, st)
	raw, _ := os.ReadFile(path)
	if want := `{"format":"tagline-qa-state/2","gen":1,"tags":{"04AA":{"2":10,"5":4}}}` + "\n"; string(raw) != want {
		t.Fatalf("got  %s\nwant %s", raw, want)
	}
}

// Runs sharing one state file, saving at the same time and compacting
// under each other, lose none of each other's counters.
func TestStateConcurrentRunsLoseNothing(t *testing.T) {
	old := compactSlack
	compactSlack = 8
	t.Cleanup(func() { compactSlack = old })
	path := filepath.Join(t.TempDir(), "state.json")
	const runs, per = 4, 60
	var wg sync.WaitGroup
	errs := make(chan error, runs)
	for r := range runs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, err := loadState(path)
			if err != nil {
				errs <- err
				return
			}
			for k := range per {
				// A few tags over and over (compactions), one new each time.
				st.see(manifest.UID(fmt.Sprintf("04R%dHOT%d", r, k%3)), 1, uint32(k+1))
				st.see(manifest.UID(fmt.Sprintf("04R%dT%03d", r, k)), 1, uint32(k+1))
				if err := st.save(); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	st := mustLoad(t, path)
	for r := range runs {
		for k := range per {
			if c, _ := st.last(manifest.UID(fmt.Sprintf("04R%dT%03d", r, k)), 1); c != uint32(k+1) {
				t.Fatalf("run %d lost tag %d (ctr %d)", r, k, c)
			}
		}
		for h := range 3 {
			if c, _ := st.last(manifest.UID(fmt.Sprintf("04R%dHOT%d", r, h)), 1); c < per-3 {
				t.Fatalf("run %d hot tag %d at %d", r, h, c)
			}
		}
	}
	ents, _ := os.ReadDir(filepath.Dir(path))
	if len(ents) != 1 {
		t.Fatalf("files left beside the state: %v", ents)
	}
}

// BenchmarkStateRun is the state file's cost in a run that verifies n
// tags one at a time, each durable before the next (VerifyTag): one
// iteration is a whole run into a fresh file. It must grow linearly in n.
func BenchmarkStateRun(b *testing.B) {
	for _, n := range []int{1000, 4000, 10000} {
		b.Run(fmt.Sprintf("tags=%d", n), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				st, err := loadState(filepath.Join(b.TempDir(), "state.json"))
				if err != nil {
					b.Fatal(err)
				}
				for k := 0; k < n; k++ {
					st.see(manifest.UID(fmt.Sprintf("0451A0%08X", k)), uint64(k+1), 2)
					if err := st.save(); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}

// FuzzStateFile: any bytes are refused or read into a state whose
// snapshot reads back the same.
func FuzzStateFile(f *testing.F) {
	f.Add([]byte(`{"format":"tagline-qa-state/1","tags":{"04AA":{"2":10,"5":3}}}` + "\n"))
	f.Add([]byte(`{"format":"tagline-qa-state/2","tags":{}}` + "\n" + `{"uid":"04BB","seq":3,"ctr":9}` + "\n" + `{"uid":"04CC","seq":3,"ct`))
	f.Add([]byte(`{"format":"tagline-qa-state/2","tags":{"0451A001000001":{"1":4}}}`))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, data []byte) {
		st := &state{tags: map[manifest.UID]map[uint64]uint32{}}
		if err := st.parse(data); err != nil {
			if !errors.Is(err, ErrState) {
				t.Fatalf("error without ErrState: %v", err)
			}
			return
		}
		if st.off > int64(len(data)) {
			t.Fatalf("read %d of %d bytes", st.off, len(data))
		}
		snap, err := st.snapshot(st.gen + 1)
		if err != nil {
			t.Fatal(err)
		}
		back := &state{tags: map[manifest.UID]map[uint64]uint32{}}
		if err := back.parse(snap); err != nil || back.repair || back.off != int64(len(snap)) {
			t.Fatalf("snapshot %q: %v", snap, err)
		}
		if !maps.EqualFunc(back.tags, st.tags, maps.Equal) || back.live != st.live {
			t.Fatalf("snapshot changed the state:\n%v\n%v", st.tags, back.tags)
		}
	})
}

// A run whose view of the file is stale reads it again even when the
// rewritten file got the old one's inode back: the generation in the
// snapshot tells them apart.
func TestStateRewriteWithReusedInode(t *testing.T) {
	old := compactSlack
	compactSlack = 2
	t.Cleanup(func() { compactSlack = old })
	path := filepath.Join(t.TempDir(), "state.json")
	a := mustLoad(t, path)
	a.see("04A0", 1, 1)
	mustSave(t, a)
	b := mustLoad(t, path)
	for k := range 10 {
		b.see("04B0", 1, uint32(k+1))
		mustSave(t, b)
	}
	if b.gen < 2 {
		t.Fatalf("b never rewrote the file (gen %d)", b.gen)
	}
	// As if the rewrite had reused the inode a read.
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	a.file = fi
	a.see("04A1", 1, 1)
	mustSave(t, a)
	st := mustLoad(t, path)
	for u, want := range map[string]uint32{"04A0": 1, "04A1": 1, "04B0": 10} {
		if c, _ := st.last(manifest.UID(u), 1); c != want {
			t.Fatalf("%s at %d, want %d: %v", u, c, want, st.tags)
		}
	}
}
