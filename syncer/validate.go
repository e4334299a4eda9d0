package syncer

import (
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/tagline-station/tagline/batch"
)

// Bounds of the record rules (doc.go, "Record rules"). A chunk with one
// record outside them is refused whole, before anything is stored.
const (
	// MaxTextLen bounds sku, batch_id and station_id in bytes: the
	// journal's own limit, with one rule for both (batch.CheckText).
	MaxTextLen = batch.MaxNameLen
	// MaxReadCtr is the highest read_ctr a record may carry. The SDM read
	// counter has 24 bits and a station reads it back right after enabling
	// SDM, which resets it to zero, so it sees a small value. 0xFFFFFF is
	// the exhausted counter: a tag there mirrors no new counter, so a
	// binding at it could never be tapped genuine.
	MaxReadCtr = 0xFFFFFF - 1
	// MaxSeq is the highest seq (and since): the backends keep seqs as
	// signed 64-bit integers (PostgreSQL bigint).
	MaxSeq = 1<<63 - 1
	// MaxAttempts bounds attempts: at a few tenths of a second each, a
	// million attempts on one tag would take days.
	MaxAttempts = 1 << 20
	// DefaultClockSkew is how far ahead of the receiver's clock a record's
	// times may be.
	DefaultClockSkew = 5 * time.Minute
)

// ErrClockAhead is wrapped (with ErrChunk) when a record's time lies in
// the future beyond the allowed skew: the station's clock runs ahead.
var ErrClockAhead = errors.New("the station's clock is ahead")

// Limits are what ParseChunkWith checks beyond the format itself.
type Limits struct {
	// MaxRecords bounds the records of one chunk (0: no bound).
	MaxRecords int
	// Now is the receiver's clock (default time.Now); ClockSkew how far a
	// record's started_at or completed_at may be ahead of it (default
	// DefaultClockSkew).
	Now       func() time.Time
	ClockSkew time.Duration
}

// validUID accepts what a phone's tap can carry: the 7-byte UID of an
// NTAG 424 DNA, as 14 upper-case hex digits.
func validUID(u string) error {
	if len(u) != 14 {
		return fmt.Errorf("uid %q is not 7 bytes of upper-case hex", clip(u))
	}
	for i := 0; i < len(u); i++ {
		if c := u[i]; !(c >= '0' && c <= '9' || c >= 'A' && c <= 'F') {
			return fmt.Errorf("uid %q is not 7 bytes of upper-case hex", clip(u))
		}
	}
	return nil
}

func isHex(s string, upper bool) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := c >= '0' && c <= '9' || (upper && c >= 'A' && c <= 'F') || (!upper && c >= 'a' && c <= 'f')
		if !ok {
			return false
		}
	}
	return true
}

// clip bounds what of a refused value goes into an error message.
func clip(s string) string {
	if len(s) > 32 {
		for i := 32; i > 0; i-- {
			if utf8.RuneStart(s[i]) {
				return s[:i] + "…"
			}
		}
	}
	return s
}

// validateRecord applies the record rules to b, a record of a chunk of
// station, given the receiver's time now.
func validateRecord(b *batch.Binding, now time.Time, skew time.Duration) error {
	if err := validUID(b.UID); err != nil {
		return err
	}
	if b.Seq == 0 || b.Seq > MaxSeq {
		return fmt.Errorf("seq %d is out of range (1 to 2^63-1)", b.Seq)
	}
	for _, f := range []struct{ what, s string }{{"sku", b.SKU}, {"batch_id", b.BatchID}, {"station_id", b.StationID}} {
		if err := batch.CheckText(f.what, f.s); err != nil {
			return err
		}
	}
	switch {
	case b.KeyVersion == 0:
		return errors.New("key_version 0 is the factory key version; a binding has 1 to 255")
	case b.ReadCtr > MaxReadCtr:
		return fmt.Errorf("read_ctr %d is one no station read-back can see (at most %d)", b.ReadCtr, MaxReadCtr)
	case b.Outcome != batch.OutcomeEncoded && b.Outcome != batch.OutcomeVerified:
		return fmt.Errorf("outcome %q is not that of a binding (encoded or verified)", clip(string(b.Outcome)))
	case b.Attempts < 0 || b.Attempts > MaxAttempts:
		return fmt.Errorf("attempts %d is out of range (0 to %d)", b.Attempts, MaxAttempts)
	case len(b.MasterKCV) > 16 || len(b.MasterKCV)%2 != 0 || !isHex(b.MasterKCV, true):
		return errors.New("master_kcv is not upper-case hex of at most 8 bytes (key material?)")
	case b.TemplateHash != "" && (len(b.TemplateHash) != 64 || !isHex(b.TemplateHash, false)):
		return errors.New("template_hash is not a lower-case hex sha-256")
	case b.CompletedAt.IsZero():
		return errors.New("no completed_at")
	}
	for _, f := range []struct {
		what string
		t    time.Time
	}{{"completed_at", b.CompletedAt}, {"started_at", b.StartedAt}} {
		if ahead := f.t.Sub(now); ahead > skew {
			return fmt.Errorf("%w: %s %s is %s after the backend's time %s (at most %s allowed); set the station's clock right (NTP): the record is accepted once the backend's time reaches it",
				ErrClockAhead, f.what, f.t.UTC().Format(time.RFC3339), ahead.Round(time.Second), now.UTC().Format(time.RFC3339), skew)
		}
	}
	return nil
}
