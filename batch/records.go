package batch

import (
	"encoding/hex"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/tagline-station/tagline/manifest"
)

// BatchStatus says whether a batch still accepts new tags.
type BatchStatus string

const (
	StatusOpen   BatchStatus = "open"
	StatusClosed BatchStatus = "closed"
)

// The key derivations a batch can be pinned to. The names are those of
// keys.Scheme (a test in package station keeps them equal); the journal
// stores the name, never anything derived.
const (
	KDFTagline    = "tagline"
	KDFSDMBackend = "sdm-backend"
	// DefaultKDF is what a batch gets when none is named, and what a
	// version 1 batch record, written before derivations were pinned,
	// reads as.
	DefaultKDF = KDFTagline
)

func validKDF(s string) bool { return s == KDFTagline || s == KDFSDMBackend }

// Batch is one production run of a single SKU with one key version and one
// key derivation.
type Batch struct {
	ID         string `json:"id"`
	SKU        string `json:"sku"`
	Target     int    `json:"target"`
	Template   string `json:"template"`
	KeyVersion byte   `json:"key_version"`
	// KDF is the key derivation every tag of the batch is keyed with
	// (KDFTagline or KDFSDMBackend), fixed when the batch is created:
	// a backend verifies a batch with one derivation.
	KDF string `json:"kdf"`
	// Test marks a batch created for trials; only a test batch may be
	// encoded with a weak master key such as all zeros (the factory
	// keys).
	Test bool `json:"test"`
	// LRP marks a batch whose tags are switched to LRP mode, for good,
	// once personalised: asked for by name (--lrp) and fixed at creation.
	LRP bool `json:"lrp,omitempty"`
	// RandomID marks a batch whose tags get random ID (UID privacy)
	// turned on, for good, as their last change: asked for by name
	// (--random-id) and fixed at creation.
	RandomID bool `json:"random_id,omitempty"`
	// Simulated marks a batch encoded from the simulated reader: set by
	// MarkSimulated before its first binding, and then its bindings go
	// out marked (manifests, sync) so that no backend takes them for
	// real tags unless told to.
	Simulated bool        `json:"simulated,omitempty"`
	Notes     string      `json:"notes,omitempty"`
	Status    BatchStatus `json:"status"`
	CreatedAt time.Time   `json:"created_at"`
	ClosedAt  time.Time   `json:"closed_at,omitzero"`
}

// IntentState is what the journal knows of an intent's last attempt.
type IntentState string

const (
	// IntentInProgress: no outcome of the last attempt was recorded. The
	// station is at work on the tag, or stopped (was killed, lost power)
	// during the attempt, possibly in the middle of a key change.
	IntentInProgress IntentState = "in_progress"
	// IntentFailed: the last attempt failed, and this or an earlier
	// attempt may have written to the tag.
	IntentFailed IntentState = "failed"
)

// Intent is written, durably, before the first key on a tag is changed. As
// long as it is open, a restarted station knows which tag may carry which
// keys.
type Intent struct {
	UID          manifest.UID `json:"uid"`
	BatchID      string       `json:"batch_id"`
	SKU          string       `json:"sku"`
	StationID    string       `json:"station_id"`
	KeyVersion   byte         `json:"key_version"`
	MasterKCV    string       `json:"master_kcv"`
	TemplateHash string       `json:"template_hash"`
	StartedAt    time.Time    `json:"started_at"`
	Attempts     int          `json:"attempts"`
	// Reencode allows the intent for a tag that already has a binding; on
	// Complete the old binding moves to the history bucket.
	Reencode bool `json:"reencode,omitempty"`
	// KeysMayHaveChanged is true for every open intent. The intent is
	// recorded before the station's first write to the tag, because a
	// station killed during the write never gets to record anything after
	// it; so from the moment the intent exists the tag may hold some of
	// the new keys. Only FailIntent with KeysUntouched on a first attempt
	// says otherwise, and it removes the intent.
	KeysMayHaveChanged bool `json:"keys_may_have_changed"`
	// State says whether the last attempt's failure was recorded.
	State     IntentState `json:"state"`
	LastError string      `json:"last_error,omitempty"`
}

// BatchStats is the progress of a batch, kept as counters updated in the
// same transaction as the records they count.
type BatchStats struct {
	// Done counts the bindings made in this batch, including ones later
	// superseded by a re-encode.
	Done int `json:"done"`
	// Failed counts failed attempts: FailIntent calls, and failures
	// before any intent that the station counted with CountOutcome.
	Failed int `json:"failed"`
	// Duplicates counts tags refused as already encoded: BeginIntent
	// calls refused with ErrDuplicate, and tags the station found bound
	// before any intent (CountOutcome).
	Duplicates  int `json:"duplicates"`
	OpenIntents int `json:"open_intents"`
	Target      int `json:"target"`
}

// NormalizeUID checks a UID given to the journal and returns it in its
// one form; a bad one is invalid journal input.
func NormalizeUID(uid manifest.UID) (manifest.UID, error) {
	u, err := manifest.ParseUID(string(uid))
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return u, nil
}

// normalizeKCV accepts at most 8 bytes: a key check value is 3 bytes by
// convention, and anything of key size is refused so that a caller passing
// a key by mistake gets an error instead of a journal full of secrets.
func normalizeKCV(kcv string) (string, error) {
	k := strings.ToUpper(strings.TrimSpace(kcv))
	if k == "" {
		return "", nil
	}
	if _, err := hex.DecodeString(k); err != nil {
		return "", fmt.Errorf("%w: master_kcv is not hex", ErrInvalid)
	}
	if len(k) > 16 {
		return "", fmt.Errorf("%w: master_kcv has %d bytes, which looks like key material; store only the key check value (3 bytes)", ErrInvalid, len(k)/2)
	}
	if len(k) < 4 {
		return "", fmt.Errorf("%w: master_kcv has %d byte; a check value has at least 2", ErrInvalid, len(k)/2)
	}
	return k, nil
}

func normalizeTemplateHash(h string) (string, error) {
	t := strings.ToLower(strings.TrimSpace(h))
	if t == "" {
		return "", nil
	}
	if len(t) != 64 {
		return "", fmt.Errorf("%w: template_hash must be a hex sha-256 (64 characters), got %d", ErrInvalid, len(t))
	}
	if _, err := hex.DecodeString(t); err != nil {
		return "", fmt.Errorf("%w: template_hash is not hex", ErrInvalid)
	}
	return t, nil
}

// validName is the rule for batch and station IDs: they appear in file
// names, command lines and CSV cells, so they are kept to characters that
// need no quoting anywhere.
func validName(what, s string) error {
	if s == "" {
		return fmt.Errorf("%w: empty %s", ErrInvalid, what)
	}
	if len(s) > 64 {
		return fmt.Errorf("%w: %s %q is longer than 64 characters", ErrInvalid, what, s)
	}
	for i, r := range s {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
			(i > 0 && (r == '-' || r == '_' || r == '.'))
		if !ok {
			return fmt.Errorf("%w: %s %q may hold only letters, digits and '-', '_', '.' (not first)", ErrInvalid, what, s)
		}
	}
	return nil
}

// validSKU applies CheckText to a SKU; an intent may carry none.
func validSKU(sku string, required bool) error {
	if sku == "" && !required {
		return nil
	}
	if err := manifest.CheckText("sku", sku); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return nil
}

func validText(what, s string, max int, required bool) error {
	if s == "" {
		if required {
			return fmt.Errorf("%w: empty %s", ErrInvalid, what)
		}
		return nil
	}
	if len(s) > max {
		return fmt.Errorf("%w: %s is longer than %d bytes", ErrInvalid, what, max)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("%w: %s is not valid utf-8", ErrInvalid, what)
	}
	// Free text (notes, the template, which has its own checks) may hold
	// a tab; a SKU goes through CheckText.
	for _, r := range s {
		if unicode.IsControl(r) && r != '\t' {
			return fmt.Errorf("%w: %s contains a control character (%U); use printable text", ErrInvalid, what, r)
		}
	}
	return nil
}

// clipReason keeps failure reasons bounded; they come from lower layers and
// may be long wrapped error chains.
func clipReason(s string) string {
	s = strings.ToValidUTF8(strings.TrimSpace(s), "?")
	const max = 500
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
