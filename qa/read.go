package qa

import (
	"context"

	"github.com/tagline-station/tagline/encoder"
	"github.com/tagline-station/tagline/reader"
)

// ErrNoURL reports a tag whose NDEF file holds no single URI record.
var ErrNoURL = encoder.ErrNoURL

// ReadURL reads the SUN URL from a tag as a phone does (encoder.Conn.ReadURL).
func ReadURL(ctx context.Context, card reader.Card) (string, error) {
	return encoder.New(card, encoder.Options{}).ReadURL(ctx)
}
