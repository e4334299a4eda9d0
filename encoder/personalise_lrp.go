package encoder

import (
	"context"
	"fmt"

	"github.com/tagline-station/tagline/keys"
)

// StepSwitchLRP is the switch of a tag to LRP mode.
const StepSwitchLRP Step = "switch to lrp"

// The switch to LRP mode is the last change the flow makes, after key 0:
// it cannot be undone, so it is made only on a tag that is complete and
// provably ours. Torn before it, the tag is an AES tag with all our keys,
// which the next presentation finishes (the journal's intent vouches for
// it, since its SUN message does not fit the LRP layout yet); torn after
// it, the tag is an LRP tag with all our keys, whose LRP SUN message
// verifies, and which AuthenticateFirst opens in LRP mode after a 919D
// that counts no failure. Either way no authentication fails.

// lrpJob gives an LRP job the LRP layout of its template.
func lrpJob(job Job) (Job, error) {
	if !job.LRP || job.Template.IsLRP() {
		return job, nil
	}
	t, err := job.Template.LRP()
	if err != nil {
		return job, fmt.Errorf("%w: %w", ErrJob, err)
	}
	job.Template = t
	return job, nil
}

// checkMode refuses an LRP tag for an AES batch after authentication
// showed the tag's mode, before anything is written.
func (p *personalisation) checkMode() error {
	p.lrp = p.c.LRPSession()
	// A complete tag of ours is reported as such whatever its mode: the
	// flow stops there without writing.
	done := p.d.ours && p.in.sunOK && !p.in.unswitched && !p.randomIDPending() && !p.job.Reencode
	if p.lrp && !p.job.LRP && !done {
		return p.fail(StepAuth, fmt.Errorf("%w: it can only be personalised by a batch made with --lrp", ErrLRPMode))
	}
	return nil
}

// switchLRP switches a complete AES tag of an LRP job to LRP mode, with a
// session with our key 0 (a new one when ChangeKey of key 0 ended it).
func (p *personalisation) switchLRP(ctx context.Context) error {
	if !p.job.LRP || p.lrp {
		return nil
	}
	c := p.c
	if s := c.Session(); s == nil || s.KeyNo != keys.SlotAppMaster {
		if err := c.AuthenticateEV2First(ctx, keys.SlotAppMaster, p.tagKeys.Keys[keys.SlotAppMaster]); err != nil {
			return p.fail(StepSwitchLRP, err)
		}
	}
	if err := c.SwitchToLRP(ctx); err != nil {
		return p.fail(StepSwitchLRP, err)
	}
	p.lrp = true
	return nil
}

// reauthenticate switches the session to another key: NonFirst in AES
// mode (keeping TI and counter), LRPFirst in LRP mode (AuthenticateLRP-
// NonFirst is not used: no published vector proves it).
func reauthenticate(ctx context.Context, c *Conn, keyNo byte, k keys.Key) error {
	if c.LRPSession() {
		return c.AuthenticateLRPFirst(ctx, keyNo, k)
	}
	return c.AuthenticateEV2NonFirst(ctx, keyNo, k)
}

// inspectUnswitched recognises the SUN message of a tag that an LRP job
// personalised and that was taken away before the switch: it is ours, and
// the flow finishes it (the switch) instead of reporting it done.
func inspectUnswitched(in *inspection, url string, job Job) {
	v, err := job.Template.VerifyUnswitched(url, job.Deriver)
	if err != nil {
		return
	}
	in.sunOK, in.ourShape, in.unswitched, in.sunUID, in.ctr = true, true, true, v.UID, uint32(v.Ctr)
}

// readLRPLayout reads the rest of an NDEF file that holds the LRP layout
// of an AES job's template (16 characters longer than what the job
// writes), so that a tag an LRP batch finished shows its whole URL and is
// recognised. Other files cost no further exchange.
func readLRPLayout(ctx context.Context, c *Conn, job Job, content []byte) ([]byte, error) {
	if job.LRP || !job.Template.Encrypted() || len(content) < 2 {
		return content, nil
	}
	lt, err := job.Template.LRP()
	if err != nil {
		return content, nil
	}
	n, err := lt.NDEF(job.EncData)
	if err != nil || int(content[0])<<8|int(content[1]) != len(n)-2 {
		return content, nil
	}
	return c.ReadData(ctx, 2, 0, len(n), Plain)
}
