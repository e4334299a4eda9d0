package serve

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/tagline-station/tagline/manifest"
	"github.com/tagline-station/tagline/sdm"
)

// VerdictConfig signs the verdict of a genuine tap that is redirected, so
// that the brand's page can tell a tap from someone typing its address.
// The format is in doc.go ("Signed verdict").
type VerdictConfig struct {
	// KeyFile holds the HMAC-SHA256 key the brand shares with this
	// backend: 32 to 64 bytes, raw, or as hex digits (a file of only hex
	// digits and white space is read as hex). No key file: no verdict.
	KeyFile string
	// TTL is how long a verdict is valid after the tap (default 2
	// minutes).
	TTL time.Duration
	// Param is the query parameter added to the redirect URL (default
	// "tagline_verdict").
	Param string
}

// DefaultVerdictTTL is the validity of a verdict when VerdictConfig.TTL is
// zero: long enough for a slow phone to follow the redirect, short enough
// that a copied URL soon stops proving anything.
const DefaultVerdictTTL = 2 * time.Minute

// VerdictPrefix starts every signed verdict: the format's version.
const VerdictPrefix = "v1."

// Verdict is the signed payload, its JSON keys in this order.
type Verdict struct {
	UID     manifest.UID `json:"uid"`
	SKU     string       `json:"sku"`
	Batch   string       `json:"batch"`
	ReadCtr uint32       `json:"ctr"`
	Result  string       `json:"result"`
	// IssuedAt and Expires are Unix seconds.
	IssuedAt int64 `json:"iat"`
	Expires  int64 `json:"exp"`
	// Tamper is the TagTamper loop's status when the template mirrors it
	// (closed, opened, invalid); absent otherwise.
	Tamper sdm.Tamper `json:"tamper,omitempty"`
}

type verdictSigner struct {
	key   []byte
	ttl   time.Duration
	param string
}

// maxKeyFile bounds the read of a key file: 64 bytes as hex with a line
// end and some slack.
const maxKeyFile = 4096

func loadVerdictKey(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("serve: verdict key: %w (check Verdict.KeyFile)", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	if err != nil {
		return nil, fmt.Errorf("serve: verdict key: %w", err)
	}
	if len(b) > maxKeyFile {
		return nil, fmt.Errorf("serve: verdict key file %s is too large; it holds 32 to 64 bytes, raw or hex", path)
	}
	key := b
	// A file of hex digits (and white space around them) is hex; any
	// other file is the raw key.
	if t := bytes.TrimSpace(b); len(t) > 0 && len(t)%2 == 0 {
		if h, err := hex.DecodeString(string(t)); err == nil {
			key = h
		}
	}
	if len(key) < 32 || len(key) > 64 {
		// Only the length is said: never the key's bytes.
		return nil, fmt.Errorf("serve: verdict key in %s is %d bytes; make one of 32 to 64 bytes (e.g. head -c 32 /dev/urandom | xxd -p -c 64)", path, len(key))
	}
	return key, nil
}

func newVerdictSigner(cfg VerdictConfig) (*verdictSigner, error) {
	if cfg.KeyFile == "" {
		return nil, nil
	}
	key, err := loadVerdictKey(cfg.KeyFile)
	if err != nil {
		return nil, err
	}
	v := &verdictSigner{key: key, ttl: cfg.TTL, param: cfg.Param}
	if v.ttl <= 0 {
		v.ttl = DefaultVerdictTTL
	}
	if v.param == "" {
		v.param = "tagline_verdict"
	}
	return v, nil
}

// token is "v1." + base64url(JSON) + "." + base64url(HMAC-SHA256(key,
// "v1." + base64url(JSON))), unpadded base64url.
func (v *verdictSigner) token(p Verdict) string {
	body, _ := json.Marshal(p)
	signed := VerdictPrefix + base64.RawURLEncoding.EncodeToString(body)
	m := hmac.New(sha256.New, v.key)
	m.Write([]byte(signed))
	return signed + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// sign adds the verdict of a genuine tap to its answer and its redirect.
func (s *Server) sign(ans *TapAnswer) {
	if s.verdict == nil {
		return
	}
	now := s.now()
	ans.Verdict = s.verdict.token(Verdict{
		UID: ans.UID, SKU: ans.SKU, Batch: ans.Batch, ReadCtr: ans.ReadCtr, Result: ans.Result, Tamper: ans.Tamper,
		IssuedAt: now.Unix(), Expires: now.Add(s.verdict.ttl).Unix(),
	})
	if ans.URL != "" {
		ans.URL = withQuery(ans.URL, s.verdict.param, ans.Verdict)
	}
}
