package encoder_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/tagline-station/tagline/encoder"
	"github.com/tagline-station/tagline/reader"
)

// scriptedCard answers each command with the next chunk of a script: a
// length byte and that many bytes. When the script runs out the tag is
// gone.
type scriptedCard struct {
	script []byte
	n      int
}

func (c *scriptedCard) Transmit(_ context.Context, _ []byte) ([]byte, error) {
	c.n++
	if len(c.script) == 0 {
		return nil, reader.ErrTagRemoved
	}
	l := int(c.script[0])
	c.script = c.script[1:]
	l = min(l, len(c.script))
	r := c.script[:l]
	c.script = c.script[l:]
	return bytes.Clone(r), nil
}

// FuzzPersonaliseAnswers plays arbitrary answers to the whole flow, as a
// hostile card would. Personalise must not panic, must end after a
// bounded number of exchanges, and can never report success: no answer
// forged without our keys makes the read-back verify.
func FuzzPersonaliseAnswers(f *testing.F) {
	f.Add([]byte{2, 0x90, 0x00, 3, 0x00, 0x91, 0x00})
	f.Add([]byte{2, 0x90, 0x00, 4, 0x00, 0x00, 0x91, 0x00, 3, 0x07, 0x91, 0x00})
	f.Add([]byte{2, 0x6A, 0x82})
	f.Add([]byte{2, 0x90, 0x00, 0, 1, 0x91})
	d := deriver(f, masterHex, 1)
	f.Fuzz(func(t *testing.T, script []byte) {
		for _, withUID := range []bool{true, false} {
			card := &scriptedCard{script: script}
			j := job(t, d, nil, false)
			if withUID {
				j.ReaderUID = testUID
			}
			j.Journal = func(context.Context, []byte) (encoder.Known, error) {
				return encoder.Known{Intent: len(script)%2 == 0}, nil
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			res, err := encoder.Personalise(ctx, card, j, encoder.Options{Rand: bytes.NewReader(make([]byte, 1024))})
			cancel()
			if err == nil {
				t.Fatalf("a scripted card was personalised: %+v", res)
			}
			if card.n > 40 {
				t.Fatalf("%d exchanges", card.n)
			}
		}
	})
}
