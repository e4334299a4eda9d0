package qa

import (
	"context"
	"errors"

	"github.com/tagline-station/tagline/encoder"
	"github.com/tagline-station/tagline/manifest"
	"github.com/tagline-station/tagline/sdm"
)

// checkGenuine reads the presented tag's NXP originality signature and
// verifies it over the UID the SUN message proved (else the reader's),
// when Config.Genuine asks for it. A tag whose UID is not known either
// way has failed already and is not asked.
func (v *Verifier) checkGenuine(ctx context.Context, c *encoder.Conn, readerUID []byte, ver *sdm.Verified, res *TagResult) {
	if len(v.cfg.Genuine) == 0 {
		return
	}
	uid := readerUID
	if ver != nil {
		uid = ver.UID
	}
	if len(uid) != 7 {
		return
	}
	sig, err := c.ReadSig(ctx)
	switch {
	case errors.Is(err, encoder.ErrNotGenuine):
		res.fail(ReasonNotGenuine, "%v", err)
		return
	case err != nil:
		res.fail(ReasonUnreadable, "reading the originality signature: %v", err)
		return
	}
	if err := encoder.VerifyOriginality(uid, sig, v.cfg.Genuine); err != nil {
		res.fail(ReasonNotGenuine, "uid %s: %v", manifest.UIDOf(uid), err)
	}
}
