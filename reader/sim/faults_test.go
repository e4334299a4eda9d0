package sim

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tagline-station/tagline/apdu"
)

func TestTamperRewritesOneAnswerAfterRunningTheCommand(t *testing.T) {
	tag := New(Options{UID: []byte{4, 1, 2, 3, 4, 5, 6}})
	getKV := apdu.Native(apdu.InsGetKeyVersion, []byte{0})
	tag.Tamper(2, WithStatus(apdu.SWIntegrityError))
	if r := tag.Process(selectApp); sw(r) != apdu.SWOK {
		t.Fatalf("first exchange tampered: % X", r)
	}
	// The command ran (the application is selected) but its answer lies.
	if r := tag.Process(getKV); !bytes.Equal(r, []byte{0x00, 0x91, 0x1E}) {
		t.Fatalf("tampered answer % X", r)
	}
	if r := tag.Process(getKV); !bytes.Equal(r, []byte{0x00, 0x91, 0x00}) {
		t.Fatalf("the hook did not end: % X", r)
	}
	for _, c := range []struct {
		f    Fault
		want []byte
	}{
		{Replace([]byte{0xDE, 0xAD}), []byte{0xDE, 0xAD}},
		{Truncate(1), []byte{0x00}},
		{Extend(3), []byte{0x00, 0xA5, 0xA5, 0xA5, 0x91, 0x00}},
		{FlipLastData, []byte{0x01, 0x91, 0x00}},
		{Replace(nil), []byte{}},
	} {
		tag.Tamper(1, c.f)
		if r := tag.Process(getKV); !bytes.Equal(r, c.want) || r == nil {
			t.Errorf("got % X, want % X", r, c.want)
		}
	}
}

func TestForeignCardPersonalities(t *testing.T) {
	tag := New(Options{})
	tag.Tamper(0, OtherISOCard)
	if r := tag.Process(selectApp); sw(r) != apdu.SWISOFileNotFound {
		t.Fatalf("select answered % X", r)
	}
	if r := tag.Process(apdu.Native(apdu.InsGetVersion)); sw(r) != apdu.SWISOClaNotSupported {
		t.Fatalf("native answered % X", r)
	}
	tag.Tamper(0, Type2Tag)
	if r := tag.Process(selectApp); !bytes.Equal(r, []byte{0x63, 0x00}) {
		t.Fatalf("type 2 answered % X", r)
	}
	tag.Tamper(0, nil)
	if r := tag.Process(selectApp); sw(r) != apdu.SWOK {
		t.Fatalf("after the personality ended: % X", r)
	}
}

func TestStallEndsWithTheContext(t *testing.T) {
	tag := New(Options{})
	r := NewReader("sim0")
	r.Present(tag)
	c, _ := r.WaitTag(context.Background())
	tag.Stall(1, time.Hour)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.Transmit(ctx, selectApp)
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
		t.Fatalf("%v after %v", err, time.Since(start))
	}
	// The tag was not held: the next exchange answers at once.
	if resp, err := c.Transmit(context.Background(), selectApp); err != nil || sw(resp) != apdu.SWOK {
		t.Fatalf("% X %v", resp, err)
	}
}

func TestChangeUID(t *testing.T) {
	a, b := []byte{4, 1, 2, 3, 4, 5, 6}, []byte{4, 9, 9, 9, 9, 9, 9}
	tag := New(Options{UID: a})
	tag.ChangeUID(2, b)
	tag.Process(selectApp)
	if !bytes.Equal(tag.UID(), a) {
		t.Fatal("changed too early")
	}
	tag.Process(selectApp)
	if !bytes.Equal(tag.UID(), b) || !bytes.Equal(tag.Snapshot().UID, b) {
		t.Fatalf("uid %X", tag.UID())
	}
}
