package cmd

import (
	"bytes"
	"fmt"

	"github.com/tagline-station/tagline/batch"
	"github.com/tagline-station/tagline/keys"
)

// batchScheme resolves the key derivation for work on batch b: --kdf,
// then the config file's kdf, and when neither names one, the batch's. A
// derivation other than the one the batch was created with is refused: a
// batch whose tags carry keys of two derivations verifies only in part at
// the backend, and its manifest cannot tell which tag is which.
func (e *env) batchScheme(flag string, b batch.Batch) (keys.Scheme, error) {
	name, from, err := e.lookup(settingKDF, flag)
	if err != nil {
		return "", err
	}
	pinned := b.KDF
	if pinned == "" {
		pinned = batch.DefaultKDF
	}
	if name == "" {
		name = pinned
	}
	s, err := keys.ParseScheme(name)
	if err != nil {
		return "", usageErrorf("--kdf is tagline or sdm-backend", "%w", err)
	}
	if string(s) != pinned {
		return "", usageErrorf(fmt.Sprintf("batch %s is keyed with %s: drop %s or give --kdf %s; for the other derivation create a new batch with tagline batch new --kdf %s", b.ID, pinned, from, pinned, s),
			"%s %s differs from batch %s's key derivation %s", from, s, b.ID, pinned)
	}
	return s, nil
}

// loadStationMaster loads the master key the way every command that
// derives tag keys does (flag, then environment, then config). The
// derivation is resolved later, against the batch (batchKeys).
func (e *env) loadStationMaster(kdfFlag, keyFileFlag string) (keys.Master, error) {
	if kdfFlag != "" {
		if _, err := keys.ParseScheme(kdfFlag); err != nil {
			return keys.Master{}, usageErrorf("--kdf is tagline or sdm-backend", "%w", err)
		}
	}
	src, err := e.masterKeySource(keyFileFlag)
	if err != nil {
		return keys.Master{}, err
	}
	return e.loadMaster(src)
}

// batchKeys resolves the derivation for batch b (batchScheme) and refuses
// a weak master key for a batch not created as a test batch.
func (e *env) batchKeys(kdfFlag string, m keys.Master, b batch.Batch) (keys.Scheme, error) {
	scheme, err := e.batchScheme(kdfFlag, b)
	if err != nil {
		return "", err
	}
	if err := refuseWeakMaster(m, b); err != nil {
		return "", err
	}
	return scheme, nil
}

// refuseWeakMaster refuses a master key that anyone can guess (all zeros,
// or one byte repeated) unless the batch was created as a test batch. With
// the sdm-backend derivation an all-zero master key leaves the tags with
// the factory keys; with any derivation a guessable master key makes every
// tag's keys public.
func refuseWeakMaster(m keys.Master, b batch.Batch) error {
	what, weak := weakMaster(m)
	if !weak || b.Test {
		return nil
	}
	return usageErrorf("use the station's real master key (tagline keys check shows its kcv); to try tagline with such a key, create a test batch: tagline batch new --test ...",
		"the master key (kcv %s) is %s, which anyone can guess; batch %s is a production batch and refuses it", m.KCV(), what, b.ID)
}

// weakMaster reports a master key made of one repeated byte value, all
// zeros included. It compares against each candidate in constant time
// rather than looking at the key's bytes, which package keys keeps to
// itself.
func weakMaster(m keys.Master) (string, bool) {
	if m.Len() == 0 {
		return "", false
	}
	if m.IsZero() {
		return "all zeros (the factory key)", true
	}
	for v := 1; v < 256; v++ {
		c, err := keys.NewMaster(bytes.Repeat([]byte{byte(v)}, m.Len()))
		if err != nil {
			return "", false
		}
		if m.Equal(c) {
			return "one byte repeated", true
		}
	}
	return "", false
}
