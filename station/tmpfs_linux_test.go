package station_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/tagline-station/tagline/batch"
	"github.com/tagline-station/tagline/reader/sim"
	"github.com/tagline-station/tagline/station"
)

// smallDisk mounts a tmpfs of size bytes for the test, when the test may
// mount file systems (root); the injected-fault test covers the rest.
func smallDisk(t *testing.T, size int) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "disk")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, fmt.Sprintf("size=%d", size)); err != nil {
		t.Skipf("cannot mount a tmpfs here (%v); TestFullJournalHoldsEveryLane injects the same failure", err)
	}
	t.Cleanup(func() { _ = syscall.Unmount(dir, syscall.MNT_DETACH) })
	return dir
}

// fill writes a file until the disk is full.
func fill(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 4096)
	for {
		if _, err := f.Write(buf); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			return
		}
	}
}

// The full-disk test on a real full disk: a journal on a small tmpfs that
// fills up mid-run holds every lane, no tag starts, and after space is
// freed and the operator resumes, the lanes go on; every PASS is bound.
func TestRealFullDiskHoldsEveryLane(t *testing.T) {
	dir := smallDisk(t, 4<<20)
	f := newFixture(t, filepath.Join(dir, "j.db"))
	var lanes []station.RunLane
	for i := range 4 {
		r := sim.NewReader(fmt.Sprintf("sim%d", i))
		lanes = append(lanes, station.RunLane{Reader: r, Feeder: newFeeder(r, nil)})
	}
	run := startRun(t, station.RunConfig{Station: f.st, Lanes: lanes, OverTarget: true})
	run.ev.wait(t, 0, 10*time.Second, "a first pass", passed)
	filler := filepath.Join(dir, "filler")
	fill(t, filler)

	hold := run.ev.wait(t, 0, 60*time.Second, "hold on the full disk", kind(station.EvHold))
	if err := run.ev.snapshot()[hold].Err; !errors.Is(err, batch.ErrWriteFailed) || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("hold: %v", err)
	}
	started := run.rt.Gate().Started()
	time.Sleep(400 * time.Millisecond)
	if n := run.rt.Gate().Started(); n != started {
		t.Fatalf("%d tags started on the full disk", n-started)
	}
	run.rt.Gate().Resume()
	if !run.rt.Gate().Paused() {
		t.Fatal("resumed on a full disk")
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	before := run.ev.len()
	run.rt.Gate().Resume()
	run.ev.wait(t, before, 10*time.Second, "a pass after space was freed", passed)
	run.rt.Stop("test over")
	run.wait(t, 10*time.Second)

	pass := 0
	for _, ev := range run.ev.snapshot() {
		if passed(ev) {
			pass++
			if _, ok, err := f.store.Lookup(ev.Result.UID); err != nil || !ok {
				t.Errorf("PASS %s not in the journal: %v", ev.Result.UID, err)
			}
		}
	}
	if st, err := f.store.Stats("b1"); err != nil || st.Done != pass {
		t.Fatalf("journal has %d bindings, %d PASS reported (%v)", st.Done, pass, err)
	}
}
