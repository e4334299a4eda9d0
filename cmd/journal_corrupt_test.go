package cmd

import (
	"bytes"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
)

// One damaged byte in the newest bbolt meta page used to drop the last
// commit silently (the binding turned back into an open intent, and check
// said ok). Now check exits 5 and names it, and no command writes.
func TestJournalCheckReportsDamagedMetaPage(t *testing.T) {
	c := newCLI(t)
	j := c.path("j.db")
	kf := c.write("master.key", testKeyHex, 0o600)
	c.must(0, "batch", "new", "--journal", j, "--id", "b", "--sku", "S", "--target", "1", "--key-version", "1", "--template", simTemplate)
	c.must(0, "encode", "--journal", j, "--batch", "b", "--reader", "sim", "--count", "1", "--no-tui", "--sim-interval", "1ms", "--master-key-file", kf)
	data, err := os.ReadFile(j)
	if err != nil {
		t.Fatal(err)
	}
	// bbolt's meta pages: page 0 and page 1 (4096 bytes each here), txid
	// at bytes 48..55 of the meta body after a 16-byte page header.
	txid := func(p int) uint64 {
		var v uint64
		for i := 7; i >= 0; i-- {
			v = v<<8 | uint64(data[p*4096+16+48+i])
		}
		return v
	}
	newest := 0
	if txid(1) > txid(0) {
		newest = 1
	}
	data[newest*4096+16+40] ^= 0x01 // the high-water page id
	if err := os.WriteFile(j, data, 0o600); err != nil {
		t.Fatal(err)
	}
	r := c.must(5, "journal", "check", "--journal", j)
	if !strings.Contains(r.stdout, "meta page") || !strings.Contains(r.stdout, "PROBLEMS FOUND") {
		t.Errorf("check of a damaged meta page:\n%s", r)
	}
	r = c.must(5, "batch", "new", "--journal", j, "--id", "b2", "--sku", "S", "--target", "1", "--key-version", "1", "--template", simTemplate)
	if !strings.Contains(r.stderr, "meta page") {
		t.Errorf("batch new on a damaged journal:\n%s", r)
	}
	if after, _ := os.ReadFile(j); !bytes.Equal(after, data) {
		t.Error("a refused command changed the journal")
	}
	if r := c.must(5, "batch", "export", "b", "--journal", j); r.stdout != "" {
		t.Errorf("export of a damaged journal wrote:\n%s", r.stdout)
	}
}

// Bounded: byte flips in a small journal. Whenever journal check exits 5,
// encode and batch new leave the file as it was and batch export exits 5
// having written nothing.
func TestCommandsRefuseJournalsCheckCallsCorrupt(t *testing.T) {
	c := newCLI(t)
	j := c.path("j.db")
	kf := c.write("master.key", testKeyHex, 0o600)
	c.must(0, "batch", "new", "--journal", j, "--id", "b", "--sku", "S", "--target", "9", "--key-version", "1", "--template", simTemplate)
	c.must(0, "encode", "--journal", j, "--batch", "b", "--reader", "sim", "--count", "3", "--no-tui", "--sim-interval", "1ms", "--master-key-file", kf)
	clean, err := os.ReadFile(j)
	if err != nil {
		t.Fatal(err)
	}
	// Flip bytes only in the pages in use (bbolt's high-water mark, in
	// the meta page at bytes 16+40), not in the file's empty tail.
	var pgid int
	for i := 7; i >= 0; i-- {
		pgid = pgid<<8 | int(clean[16+40+i])
	}
	// and, to spend the bounded run where the data is, in non-zero bytes.
	var live []int
	for off := range min(len(clean), pgid*4096) {
		if clean[off] != 0 {
			live = append(live, off)
		}
	}
	rng := rand.New(rand.NewPCG(3, 4))
	corrupt := 0
	for i := 0; i < 120; i++ {
		data := bytes.Clone(clean)
		off := live[rng.IntN(len(live))]
		data[off] ^= byte(1 + rng.IntN(255))
		if err := os.WriteFile(j, data, 0o600); err != nil {
			t.Fatal(err)
		}
		if c.run("journal", "check", "--journal", j).code != ExitJournal {
			continue
		}
		corrupt++
		if r := c.run("encode", "--journal", j, "--batch", "b", "--reader", "sim", "--count", "1", "--no-tui", "--sim-interval", "1ms", "--master-key-file", kf); r.code != ExitJournal {
			t.Errorf("byte %d: encode on a corrupt journal: %s", off, r)
		}
		if r := c.run("batch", "new", "--journal", j, "--id", "b2", "--sku", "S", "--target", "1", "--key-version", "1", "--template", simTemplate); r.code != ExitJournal {
			t.Errorf("byte %d: batch new on a corrupt journal: %s", off, r)
		}
		if after, _ := os.ReadFile(j); !bytes.Equal(after, data) {
			t.Fatalf("byte %d: a command wrote to a journal check calls corrupt", off)
		}
		if r := c.run("batch", "export", "b", "--journal", j); r.code != ExitJournal || r.stdout != "" {
			t.Errorf("byte %d: export of a corrupt journal: %s", off, r)
		}
	}
	t.Logf("%d of 120 mutations corrupt by journal check", corrupt)
	if corrupt == 0 {
		t.Fatal("no mutation was corrupt; the test proves nothing")
	}
}
