package qa

// Reason names why a tag failed QA. The strings are a stable vocabulary:
// reports, JSON and CSV carry them verbatim and scripts match on them.
type Reason string

// The reasons, in order of precedence: when one tag fails several checks,
// TagResult.Reason is the first of these that applies and TagResult.Reasons
// lists them all in this order.
const (
	// ReasonUnreadable: the tag could not be read to the end (it left the
	// field, or answered an error), so nothing about it is proven.
	ReasonUnreadable Reason = "unreadable"
	// ReasonNotGenuine: the chip's NXP originality signature does not
	// verify over its UID with any trusted key (Config.Genuine): not a
	// genuine NXP chip, whatever its URL says.
	ReasonNotGenuine Reason = "not_genuine"
	// ReasonURLMismatch: the URL (or the tag's NDEF file) does not match
	// the batch's template: other literal text, other length, a field
	// that is not hex, or no URI record at all.
	ReasonURLMismatch Reason = "url_mismatch"
	// ReasonBadMAC: the SUN message does not verify with keys derived from
	// the master key: the SDMMAC is wrong or the PICCData does not decrypt.
	ReasonBadMAC Reason = "bad_mac"
	// ReasonUIDMismatch: the anticollision UID the reader saw is not the
	// UID inside the verified SUN message (a replaying emulator).
	ReasonUIDMismatch Reason = "uid_mismatch"
	// ReasonUnknownUID: the SUN message is genuine but the journal has no
	// binding for its UID.
	ReasonUnknownUID Reason = "unknown_uid"
	// ReasonWrongBatch: the UID is bound to another batch.
	ReasonWrongBatch Reason = "wrong_batch"
	// ReasonWrongSKU: the UID's binding names another SKU than expected.
	ReasonWrongSKU Reason = "wrong_sku"
	// ReasonCounterReplay: the read counter did not move strictly forward
	// from the last value known for this UID (the binding's read_ctr or
	// a value QA saw before): the URL was captured earlier and replayed.
	ReasonCounterReplay Reason = "counter_replay"
	// ReasonFactoryKey: a key of the tag still has the factory key
	// version 00, so its factory key is (by all we can ask without
	// spending an authentication attempt) still present.
	ReasonFactoryKey Reason = "factory_key_present"
	// ReasonWrongKeyVersion: a key has a version that is neither the
	// batch's nor the factory's.
	ReasonWrongKeyVersion Reason = "wrong_key_version"
	// ReasonWrongKey: every key version is the batch's, but the tag
	// refused our derived key 0 (one failed attempt was spent on it).
	ReasonWrongKey Reason = "wrong_key"
	// ReasonMissing: a tag that had to be verified (full mode: every bound
	// tag; sampling with a seed: every sampled tag) was never presented.
	ReasonMissing Reason = "missing"
)

// Reasons is the whole vocabulary in order of precedence.
var Reasons = []Reason{
	ReasonUnreadable, ReasonNotGenuine, ReasonURLMismatch, ReasonBadMAC, ReasonUIDMismatch,
	ReasonUnknownUID, ReasonWrongBatch, ReasonWrongSKU, ReasonCounterReplay,
	ReasonFactoryKey, ReasonWrongKeyVersion, ReasonWrongKey, ReasonMissing,
}

func precedence(r Reason) int {
	for i, x := range Reasons {
		if x == r {
			return i
		}
	}
	return len(Reasons)
}

// Verdict is the outcome of one result.
type Verdict string

const (
	Pass Verdict = "pass"
	Fail Verdict = "fail"
	// Skipped: a genuine tag of the batch that is not in the seeded
	// sample. It is reported but counts neither way.
	Skipped Verdict = "skipped"
)

// Mode is full inspection or sampling.
type Mode string

const (
	// ModeFull: every tag bound to the batch must be verified once.
	ModeFull Mode = "full"
	// ModeSample: N of the batch's M tags are verified; see Sampling.
	ModeSample Mode = "sample"
)

// Source says where a result came from.
type Source string

const (
	SourceTag     Source = "tag"     // a tag presented to a reader
	SourceURL     Source = "url"     // a SUN URL captured by a phone
	SourceJournal Source = "journal" // a missing tag, named by the journal
)
