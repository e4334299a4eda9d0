package qa

import (
	"errors"
	"slices"

	"github.com/tagline-station/tagline/keys"
	"github.com/tagline-station/tagline/manifest"
	"github.com/tagline-station/tagline/sdm"
)

// A batch's tags carry the batch's key version until tagline rekey moves
// them; then each binding records the version its tag holds, and QA
// verifies a tag with the version the journal binds it with, reporting
// which one each tag answered with.

// rekeyedVersions are the derivers of the key versions the batch's
// bindings record other than the batch's own, in ascending order.
func rekeyedVersions(d *keys.Deriver, bound []manifest.Binding) ([]*keys.Deriver, error) {
	var vs []byte
	for _, b := range bound {
		if b.KeyVersion != d.Version() && !slices.Contains(vs, b.KeyVersion) {
			vs = append(vs, b.KeyVersion)
		}
	}
	slices.Sort(vs)
	var out []*keys.Deriver
	for _, v := range vs {
		od, err := d.ForVersion(v)
		if err != nil {
			return nil, err
		}
		out = append(out, od)
	}
	return out, nil
}

// verifyAny verifies u with the batch's keys, then with each rekeyed
// version's; it returns the version that verified. A URL that does not fit
// the template fails at once; the batch's own error is kept when no
// version verifies.
func (v *Verifier) verifyAny(u string) (sdm.Verified, byte, error) {
	ver, err := v.tmpl.Verify(u, v.cfg.Deriver)
	if err == nil || errors.Is(err, sdm.ErrURLMismatch) || errors.Is(err, sdm.ErrURLField) {
		return ver, v.cfg.Deriver.Version(), err
	}
	for _, d := range v.rekeyed {
		if ov, oerr := v.tmpl.Verify(u, d); oerr == nil {
			return ov, d.Version(), nil
		}
	}
	return ver, 0, err
}
