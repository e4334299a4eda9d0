package serve_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tagline-station/tagline/internal/testenv"
)

// chromium finds Debian's chromium, or stops the test (a failure in CI).
func chromium(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"/usr/bin/chromium", "chromium"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	testenv.Missing(t, "chromium not found: run scripts/setup.sh (Debian package chromium)")
	return ""
}

// shot loads u once in a fresh headless chromium with a phone's window,
// and returns the rendered DOM and the screenshot's PNG bytes.
func shot(t *testing.T, bin, u string) (string, []byte) {
	t.Helper()
	dir := t.TempDir()
	png := filepath.Join(dir, "shot.png")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
		"--user-data-dir="+filepath.Join(dir, "profile"), "--window-size=390,844",
		"--screenshot="+png, "--dump-dom", u)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %s: %v\n%s", u, err, tail(errb.String(), 2000))
	}
	b, err := os.ReadFile(png)
	if err != nil {
		t.Fatalf("no screenshot of %s: %v\n%s", u, err, tail(errb.String(), 2000))
	}
	if d := os.Getenv("TAGLINE_SCREENSHOTS"); d != "" {
		// Kept for a person to look at.
		os.WriteFile(filepath.Join(d, strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())+".png"), b, 0o644)
	}
	return out.String(), b
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// checkPNG decodes a screenshot and checks it is a phone-sized page with
// something drawn on it; it returns a hash of its pixels.
func checkPNG(t *testing.T, what string, b []byte) [32]byte {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("%s: screenshot is not a PNG: %v", what, err)
	}
	if img.Bounds() != image.Rect(0, 0, 390, 844) {
		t.Fatalf("%s: screenshot is %v, want 390×844", what, img.Bounds())
	}
	colours := map[[3]uint32]int{}
	h := sha256.New()
	for y := 0; y < 844; y++ {
		for x := 0; x < 390; x++ {
			r, g, b, _ := img.At(x, y).RGBA()
			colours[[3]uint32{r >> 8, g >> 8, b >> 8}]++
			h.Write([]byte{byte(r >> 8), byte(g >> 8), byte(b >> 8)})
		}
	}
	// Text anti-aliasing gives many shades; a blank or solid page has a
	// handful.
	if len(colours) < 20 {
		t.Errorf("%s: screenshot looks blank (%d colours)", what, len(colours))
	}
	var sum [32]byte
	copy(sum[:], h.Sum(nil))
	return sum
}

// Every shopper page, rendered by a real browser at a phone's size, says
// its verdict in the rendered text and looks different from the others.
func TestBrowserShopperPages(t *testing.T) {
	bin := chromium(t)
	_, hs := newBolt(t, noRedirects)
	upload(t, hs.URL, syncToken, 0, bindings(2, "SKU-A"))
	d := deriver(t, 1)
	pages := []struct {
		name, url string
		wants     []string
	}{
		{"genuine-first", sunURL(t, d, testUID(0), 2), []string{"This product is genuine", "first tap", "Trail shoe, green", "b1"}},
		{"genuine-seen", sunURL(t, d, testUID(0), 4), []string{"This product is genuine", "read 2 times before"}},
		{"replayed", sunURL(t, d, testUID(0), 4), []string{"This link was already used", "copied"}},
		{"not-genuine", sunURL(t, deriver(t, 2), testUID(1), 2), []string{"This tag could not be verified"}},
		{"unknown", sunURL(t, d, testUID(9), 2), []string{"We do not know this tag yet"}},
	}
	seen := map[[32]byte]string{}
	for _, p := range pages {
		t.Run(p.name, func(t *testing.T) {
			dom, img := shot(t, bin, hs.URL+tapPath(p.url))
			for _, w := range p.wants {
				if !strings.Contains(dom, w) {
					t.Errorf("rendered page lacks %q:\n%s", w, dom)
				}
			}
			sum := checkPNG(t, p.name, img)
			if other, dup := seen[sum]; dup {
				t.Errorf("screenshot identical to %s's", other)
			}
			seen[sum] = p.name
		})
	}
}

// /admin in a real browser (the token as HTTP Basic credentials in the
// URL): the plots render at a phone's size.
func TestBrowserAdmin(t *testing.T) {
	bin := chromium(t)
	_, base := adminServer(t)
	u := strings.Replace(base, "http://", "http://brand:"+adminToken+"@", 1) + "/admin"
	dom, img := shot(t, bin, u)
	for _, w := range []string{"Taps of the last 7 days", "Taps per day", "<svg", "<rect", "two_places"} {
		if !strings.Contains(dom, w) {
			t.Errorf("rendered admin page lacks %q:\n%s", w, tail(dom, 3000))
		}
	}
	checkPNG(t, "admin", img)
}
