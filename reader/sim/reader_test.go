package sim

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/tagline-station/tagline/internal/transcript"

	"github.com/tagline-station/tagline/apdu"
	"github.com/tagline-station/tagline/reader"
)

var selectApp = append([]byte{0x00, 0xA4, 0x04, 0x0C, 0x07}, append(append([]byte(nil), apdu.NDEFAppName...), 0x00)...)

func waitTag(t *testing.T, r *Reader) reader.Tag {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	c, err := r.WaitTag(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestReaderPresentRemove(t *testing.T) {
	r := NewReader("sim0")
	if i := r.Info(); i.Kind != reader.KindSim || i.TagPresent || i.Name != "sim0" {
		t.Fatalf("info %+v", i)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	if _, err := r.WaitTag(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitTag on an empty reader: %v", err)
	}
	cancel()

	tag := New(Options{})
	go func() {
		time.Sleep(10 * time.Millisecond)
		r.Present(tag)
	}()
	c := waitTag(t, r)
	if !bytes.Equal(c.UID(), tag.UID()) || !r.Info().TagPresent {
		t.Fatal("wrong tag")
	}
	if resp, err := c.Transmit(context.Background(), selectApp); err != nil || sw(resp) != apdu.SWOK {
		t.Fatalf("select: %X %v", resp, err)
	}
	done := make(chan error, 1)
	go func() { done <- r.WaitRemoved(context.Background()) }()
	r.Remove()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := c.Transmit(context.Background(), selectApp); !errors.Is(err, reader.ErrTagRemoved) {
		t.Fatalf("after Remove: %v", err)
	}
	// Presented again: a new card; the old one stays dead.
	r.Present(tag)
	c2 := waitTag(t, r)
	if _, err := c2.Transmit(context.Background(), selectApp); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Transmit(context.Background(), selectApp); !errors.Is(err, reader.ErrTagRemoved) {
		t.Fatalf("stale card: %v", err)
	}
	_ = c2.Close()
	if _, err := c2.Transmit(context.Background(), selectApp); !errors.Is(err, ErrClosed) {
		t.Fatalf("closed card: %v", err)
	}
	_ = r.Close()
	if _, err := r.WaitTag(context.Background()); !errors.Is(err, reader.ErrNoReader) {
		t.Fatalf("closed reader: %v", err)
	}
}

func TestRemoveAfter(t *testing.T) {
	r := NewReader("sim")
	tag := New(Options{})
	r.Present(tag)
	c := waitTag(t, r)
	tag.RemoveAfter(2)
	write := apdu.Native(apdu.InsWriteData, dataHdr(apdu.FileNDEF, 0, 3), []byte{1, 2, 3})
	for i, capdu := range [][]byte{selectApp, apdu.Native(apdu.InsGetKeyVersion, []byte{0})} {
		if _, err := c.Transmit(context.Background(), capdu); err != nil {
			t.Fatalf("exchange %d: %v", i+1, err)
		}
	}
	if _, err := c.Transmit(context.Background(), write); !errors.Is(err, reader.ErrTagRemoved) {
		t.Fatalf("third exchange: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := r.WaitRemoved(ctx); err != nil {
		t.Fatal(err)
	}
	if f, _ := tag.File(apdu.FileNDEF); f.Data[0] != 0 {
		t.Fatal("the exchange after RemoveAfter was executed")
	}
	if r.Info().TagPresent || tag.Process(selectApp) != nil {
		t.Fatal("tag still answers")
	}
	// A hook armed before the tag is presented applies to the new
	// activation; the spent one does not fire again.
	tag.RemoveAfter(1)
	r.Present(tag)
	c = waitTag(t, r)
	if _, err := c.Transmit(context.Background(), selectApp); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Transmit(context.Background(), selectApp); !errors.Is(err, reader.ErrTagRemoved) {
		t.Fatalf("second exchange: %v", err)
	}
}

func TestRemoveDuringAndCorrupt(t *testing.T) {
	r := NewReader("sim")
	tag := New(Options{})
	r.Present(tag)
	c := waitTag(t, r)
	if _, err := c.Transmit(context.Background(), selectApp); err != nil {
		t.Fatal(err)
	}
	tag.CorruptResponse(1)
	resp, err := c.Transmit(context.Background(), apdu.Native(apdu.InsGetKeyVersion, []byte{0}))
	if err != nil || bytes.Equal(resp, []byte{0x00, 0x91, 0x00}) || len(resp) != 3 {
		t.Fatalf("corrupted response: %X %v", resp, err)
	}
	tag.RemoveDuring(1)
	write := apdu.Native(apdu.InsWriteData, dataHdr(apdu.FileNDEF, 0, 3), []byte{1, 2, 3})
	if _, err := c.Transmit(context.Background(), write); !errors.Is(err, reader.ErrTagRemoved) {
		t.Fatalf("torn exchange: %v", err)
	}
	if f, _ := tag.File(apdu.FileNDEF); !bytes.Equal(f.Data[:3], []byte{1, 2, 3}) {
		t.Fatal("the torn WriteData was not executed")
	}
	// Back in the field: a fresh activation, the write is there.
	r.Present(tag)
	p := cardPCD(t, tag, waitTag(t, r))
	p.selectApp()
	p.selectEF(apdu.FIDNDEF)
	if got := p.readBinary(0, 3); !bytes.Equal(got, []byte{1, 2, 3}) {
		t.Fatalf("read back %X", got)
	}
}

// TestConcurrentReaders personalises tags on several readers at once.
func TestConcurrentReaders(t *testing.T) {
	t.Run("lanes", func(t *testing.T) {
		for i := range 8 {
			t.Run(fmt.Sprint(i), func(t *testing.T) {
				t.Parallel()
				r := NewReader(fmt.Sprintf("sim%d", i))
				defer r.Close()
				tag := New(Options{Rand: seeded(uint64(100 + i))})
				go r.Present(tag)
				c := waitTag(t, r)
				ks := tagKeys(t, byte(16*i))
				personalise(t, cardPCD(t, tag, c), ks, bytes.Repeat([]byte{byte(i)}, 16))
				if !tag.IsPersonalisedWith(ks) {
					t.Error("keys not changed")
				}
			})
		}
	})
}

func TestTimingModel(t *testing.T) {
	tag := New(Options{Timing: &Timing{ByteTime: 10 * time.Microsecond, EEPROMWrite: 3 * time.Millisecond}})
	p := newPCD(t, tag)
	p.selectApp()
	start := time.Now()
	p.plain(apdu.InsWriteData, dataHdr(apdu.FileNDEF, 0, 40), make([]byte, 40), apdu.SWNativeOK)
	if d := time.Since(start); d < 6*time.Millisecond {
		t.Fatalf("a 40-byte write (two EEPROM cycles) took %v", d)
	}
	// Transmit honours ctx while the tag is busy (four EEPROM cycles of
	// 20 ms here); the write itself happened, as on a real tag.
	slow := New(Options{Timing: &Timing{EEPROMWrite: 20 * time.Millisecond}})
	r := NewReader("sim")
	r.Present(slow)
	c := waitTag(t, r)
	if _, err := c.Transmit(context.Background(), selectApp); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		for {
			if f, _ := slow.File(apdu.FileNDEF); f.Data[99] == 7 {
				cancel()
				return
			}
			time.Sleep(100 * time.Microsecond)
		}
	}()
	start = time.Now()
	_, err := c.Transmit(ctx, apdu.Native(apdu.InsWriteData, dataHdr(apdu.FileNDEF, 0, 100), bytes.Repeat([]byte{7}, 100)))
	if !errors.Is(err, context.Canceled) || time.Since(start) > 60*time.Millisecond {
		t.Fatalf("slow write: %v after %v", err, time.Since(start))
	}
	if Timing106().ByteTime != 85*time.Microsecond {
		t.Fatal("Timing106")
	}
}

func TestChainedWrites(t *testing.T) {
	tag := New(Options{})
	p := newPCD(t, tag)
	p.selectApp()
	p.plain(apdu.InsWriteData, dataHdr(apdu.FileNDEF, 0, 100), make([]byte, 100), apdu.SWNativeOK)
	if tag.ChainedWrites() != 0 {
		t.Fatal("a 113-byte APDU counted as chained")
	}
	p.plain(apdu.InsWriteData, dataHdr(apdu.FileNDEF, 0, 200), make([]byte, 200), apdu.SWNativeOK)
	if tag.ChainedWrites() != 1 || tag.Snapshot().ChainedWrites != 1 {
		t.Fatalf("chained writes %d", tag.ChainedWrites())
	}
}

func TestTranscriptRecordReplay(t *testing.T) {
	run := func(c reader.Card, tag *Tag) string {
		return personalise(t, cardPCD(t, tag, c), tagKeys(t, 0x50), bytes.Repeat([]byte{0xC3}, 16))
	}
	r := NewReader("sim")
	tag := New(Options{UID: unhex(t, "04010203040506"), Rand: seeded(9)})
	r.Present(tag)
	rec := transcript.NewRecorder(waitTag(t, r))
	url := run(rec, tag)
	tr := rec.Transcript()
	if !bytes.Equal(tr.UID, tag.UID()) || len(tr.Exchanges) < 10 {
		t.Fatalf("transcript: uid %X, %d exchanges", tr.UID, len(tr.Exchanges))
	}
	path := filepath.Join(t.TempDir(), "personalise.json")
	if err := tr.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	loaded, err := transcript.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	// The same PCD against the replay: identical commands, identical URL.
	rep := transcript.NewReplay(loaded)
	fresh := New(Options{UID: unhex(t, "04010203040506")}) // for UID only
	if got := run(rep, fresh); got != url {
		t.Fatalf("replayed url %s, recorded %s", got, url)
	}
	if err := rep.Done(); err != nil {
		t.Fatal(err)
	}
	// Any byte difference fails, and keeps failing.
	rep = transcript.NewReplay(loaded)
	bad := append([]byte(nil), loaded.Exchanges[0].C...)
	bad[len(bad)-2] ^= 1
	if _, err := rep.Transmit(context.Background(), bad); !errors.Is(err, transcript.ErrReplayMismatch) {
		t.Fatalf("mismatch: %v", err)
	}
	if _, err := rep.Transmit(context.Background(), loaded.Exchanges[0].C); !errors.Is(err, transcript.ErrReplayMismatch) {
		t.Fatalf("after a mismatch: %v", err)
	}
	if err := rep.Done(); err == nil {
		t.Fatal("Done after a mismatch")
	}
	// Errors are recorded and replayed as errors.
	tag.RemoveAfter(0)
	if _, err := rec.Transmit(context.Background(), selectApp); !errors.Is(err, reader.ErrTagRemoved) {
		t.Fatal(err)
	}
	tr = rec.Transcript()
	rep = transcript.NewReplay(transcript.Transcript{Exchanges: tr.Exchanges[len(tr.Exchanges)-1:]})
	if _, err := rep.Transmit(context.Background(), selectApp); !errors.Is(err, reader.ErrTagRemoved) {
		t.Fatalf("replayed removal: %v", err)
	}
}

// A tag swapped for another while the lane was busy counts as removed.
func TestWaitRemovedAfterSwap(t *testing.T) {
	r := NewReader("swap")
	r.Present(New(Options{}))
	if _, err := r.WaitTag(context.Background()); err != nil {
		t.Fatal(err)
	}
	r.Remove()
	r.Present(New(Options{}))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := r.WaitRemoved(ctx); err != nil {
		t.Fatalf("wait removed after a swap: %v", err)
	}
}

// A tag that left through its own fault hook answers again once activated
// by another kind of field.
func TestActivateAfterFaultHook(t *testing.T) {
	tag := New(Options{})
	tag.RemoveAfter(0)
	if r := tag.Process([]byte{0x00, 0xA4, 0x04, 0x0C, 0x07, 0xD2, 0x76, 0x00, 0x00, 0x85, 0x01, 0x01, 0x00}); r != nil {
		t.Fatalf("answered % X after leaving", r)
	}
	tag.Activate()
	r := tag.Process([]byte{0x00, 0xA4, 0x04, 0x0C, 0x07, 0xD2, 0x76, 0x00, 0x00, 0x85, 0x01, 0x01, 0x00})
	if len(r) != 2 || r[0] != 0x90 || r[1] != 0x00 {
		t.Fatalf("after Activate: % X", r)
	}
}
