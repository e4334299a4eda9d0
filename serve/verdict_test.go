package serve_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tagline-station/tagline/serve"
)

// brandVerify is what the brand's page does with the verdict, written
// with the standard library only, as the README shows: check the MAC in
// constant time, then the version, the result and the expiry.
func brandVerify(key []byte, tok string, now time.Time) (map[string]any, error) {
	if len(tok) > 2048 {
		return nil, errors.New("too long")
	}
	i := strings.LastIndexByte(tok, '.')
	if i < 0 || !strings.HasPrefix(tok, "v1.") {
		return nil, errors.New("not a v1 verdict")
	}
	sig, err := base64.RawURLEncoding.DecodeString(tok[i+1:])
	if err != nil {
		return nil, err
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(tok[:i]))
	if !hmac.Equal(sig, m.Sum(nil)) {
		return nil, errors.New("bad signature")
	}
	body, err := base64.RawURLEncoding.DecodeString(tok[len("v1."):i])
	if err != nil {
		return nil, err
	}
	var v map[string]any
	if err := json.Unmarshal(body, &v); err != nil {
		return nil, err
	}
	if v["result"] != "genuine" {
		return nil, errors.New("not genuine")
	}
	if exp, _ := v["exp"].(float64); now.Unix() >= int64(exp) {
		return nil, errors.New("expired")
	}
	return v, nil
}

func writeKey(t *testing.T, key []byte) string {
	p := filepath.Join(t.TempDir(), "verdict.key")
	if err := os.WriteFile(p, []byte(hex.EncodeToString(key)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// A genuine tap's redirect carries a verdict that the brand's page
// verifies with its key; an expired, altered or wrongly signed one is
// refused.
func TestSignedVerdict(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	_, hs := newBolt(t, func(c *serve.Config) {
		c.Verdict = serve.VerdictConfig{KeyFile: writeKey(t, key), TTL: time.Minute}
		c.Now = func() time.Time { return now }
	})
	upload(t, hs.URL, syncToken, 0, bindings(1, "SKU-A"))
	resp := get2(t, hs.URL+tapPath(sunURL(t, deriver(t, 1), testUID(0), 2)))
	loc, err := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != 302 || err != nil || !strings.HasPrefix(loc.String(), "https://brand.example/p/sku-a?tagline_verdict=") {
		t.Fatalf("%d %q %v", resp.StatusCode, loc, err)
	}
	tok := loc.Query().Get("tagline_verdict")
	v, err := brandVerify(key, tok, now.Add(59*time.Second))
	if err != nil {
		t.Fatalf("brand refused a fresh verdict: %v", err)
	}
	want := map[string]any{"uid": string(uidHex(testUID(0))), "sku": "SKU-A", "batch": "b1", "ctr": 2.0, "result": "genuine",
		"iat": float64(now.Unix()), "exp": float64(now.Add(time.Minute).Unix())}
	for k, w := range want {
		if v[k] != w {
			t.Errorf("%s = %v, want %v", k, v[k], w)
		}
	}
	if _, err := brandVerify(key, tok, now.Add(time.Minute)); err == nil || err.Error() != "expired" {
		t.Errorf("expired verdict: %v", err)
	}
	parts := strings.Split(tok, ".")
	body, _ := base64.RawURLEncoding.DecodeString(parts[1])
	forged := strings.Replace(string(body), `"ctr":2`, `"ctr":9`, 1)
	altered := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(forged)) + "." + parts[2]
	if forged == string(body) {
		t.Fatal("test did not alter the payload")
	}
	if _, err := brandVerify(key, altered, now); err == nil || err.Error() != "bad signature" {
		t.Errorf("altered verdict: %v", err)
	}
	if _, err := brandVerify([]byte("another key, 32 bytes long......"), tok, now); err == nil || err.Error() != "bad signature" {
		t.Errorf("wrong key: %v", err)
	}
	if _, err := brandVerify(key, tok[:len(tok)-2], now); err == nil {
		t.Error("truncated signature accepted")
	}

	// API clients get the same verdict in the JSON answer; a replay gets none.
	_, a := tap(t, hs.URL, sunURL(t, deriver(t, 1), testUID(0), 3))
	if _, err := brandVerify(key, a.Verdict, now); err != nil || !strings.Contains(a.URL, "tagline_verdict="+a.Verdict) {
		t.Errorf("json verdict: %v %+v", err, a)
	}
	if _, a := tap(t, hs.URL, sunURL(t, deriver(t, 1), testUID(0), 3)); a.Verdict != "" {
		t.Errorf("replay carries a verdict: %+v", a)
	}
}

// The key file is bounded and checked; its bytes never appear in an error.
func TestVerdictKeyFile(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string][]byte{
		"short":    []byte("tooshort-secret-bytes"),
		"long":     make([]byte, 5000),
		"missing":  nil,
		"hexshort": []byte(strings.Repeat("ab", 16) + "\n"),
	} {
		p := filepath.Join(dir, name)
		if content != nil {
			os.WriteFile(p, content, 0o600)
		}
		cfg := baseConfig(t)
		cfg.DBPath = filepath.Join(t.TempDir(), "s.db")
		cfg.Verdict.KeyFile = p
		s, err := serve.New(cfg)
		if err == nil {
			s.Close()
			t.Errorf("%s: key file accepted", name)
			continue
		}
		if strings.Contains(err.Error(), "tooshort-secret") || strings.Contains(err.Error(), "abab") {
			t.Errorf("%s: error shows the key: %v", name, err)
		}
	}
}
