package station_test

import (
	"encoding/hex"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tagline-station/tagline/batch"
	"github.com/tagline-station/tagline/keys"
	"github.com/tagline-station/tagline/station"
)

// The journal stores derivation names; they must be the names package keys
// parses, or a pinned batch could never be encoded.
func TestJournalKDFNamesAreKeySchemes(t *testing.T) {
	for _, c := range []struct {
		journal string
		scheme  keys.Scheme
	}{{batch.KDFTagline, keys.SchemeTagline}, {batch.KDFSDMBackend, keys.SchemeSDMBackend}} {
		s, err := keys.ParseScheme(c.journal)
		if err != nil || s != c.scheme {
			t.Errorf("journal kdf %q parses as %q (%v), want %q", c.journal, s, err, c.scheme)
		}
	}
	if batch.DefaultKDF != string(keys.SchemeTagline) {
		t.Errorf("default kdf %q", batch.DefaultKDF)
	}
}

// A batch created with one derivation is never encoded with another.
func TestStationRefusesAnotherDerivation(t *testing.T) {
	s, err := batch.Open(filepath.Join(t.TempDir(), "j.db"), batch.Options{StationID: "line-1"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	b, err := s.CreateBatch(batch.Batch{ID: "b1", SKU: "SKU-1", Template: tmpl, KeyVersion: 1, KDF: batch.KDFSDMBackend})
	if err != nil {
		t.Fatal(err)
	}
	cfg := stationConfig(t, s, b) // a tagline-derivation deriver
	if _, err := station.New(cfg); err == nil || !strings.Contains(err.Error(), "sdm-backend") {
		t.Fatalf("station.New with a tagline deriver for an sdm-backend batch: %v", err)
	}
	mb, _ := hex.DecodeString(masterHex)
	m, _ := keys.NewMaster(mb)
	if cfg.Deriver, err = keys.NewDeriver(keys.SchemeSDMBackend, m, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := station.New(cfg); err != nil {
		t.Fatalf("station.New with the batch's derivation: %v", err)
	}
}
