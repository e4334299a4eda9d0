package serve

import (
	"fmt"

	"github.com/tagline-station/tagline/keys"
)

// Rollout is a key rotation in progress (tagline rekey): tags bound with
// From are being moved to To. Until the station's sync brings a tag's new
// binding, the backend still records From for a tag that already answers
// with To's keys; during the rollout such a tap is genuine, and the read
// counter is checked against the tag's record as for any tap. Only that
// direction is accepted: a tag whose binding records To was read back
// with To's keys before the binding was written, so a message made with
// From's keys for it is not from the tag.
type Rollout struct {
	From, To byte
}

// active reports a configured rollout.
func (r Rollout) active() bool { return r.From != 0 && r.To != 0 && r.From != r.To }

// addRolloutVersions makes sure both versions of the rollout are verified,
// the recorded one first.
func (s *Server) addRolloutVersions(scheme keys.Scheme, master keys.Master) error {
	r := s.cfg.Rollout
	if r == (Rollout{}) {
		return nil
	}
	if !r.active() {
		return fmt.Errorf("serve: rollout %d:%d: give two different key versions, 1 to 255", r.From, r.To)
	}
	for _, v := range []byte{r.From, r.To} {
		if s.byVersion[v] != nil {
			continue
		}
		d, err := keys.NewDeriver(scheme, master, v)
		if err != nil {
			return fmt.Errorf("serve: key version %d: %w", v, err)
		}
		s.derivers = append(s.derivers, d)
		s.byVersion[v] = d
	}
	return nil
}

// rolledForward reports a tap verified with the rollout's new version for
// a tag the store records with its old one.
func (s *Server) rolledForward(verified, recorded byte) bool {
	r := s.cfg.Rollout
	return r.active() && verified == r.To && recorded == r.From
}
