package serve_test

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tagline-station/tagline/serve"
)

// browserGet GETs a URL as a browser would (no JSON Accept) and returns
// the status, content type and body.
func browserGet(t testing.TB, u string) (int, string, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", u, nil)
	req.Header.Set("Accept", "text/html,application/xhtml+xml,*/*;q=0.8")
	resp, err := jsonClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
}

// noRedirects serves pages for every SKU: no redirect, no default URL.
func noRedirects(c *serve.Config) {
	c.Redirects = nil
	c.DefaultURL = ""
	c.Pages.Products = map[string]string{"SKU-A": "Trail shoe, green"}
}

func wantPage(t *testing.T, what string, status int, ctype, body string, wantStatus int, wants ...string) {
	t.Helper()
	if status != wantStatus || !strings.HasPrefix(ctype, "text/html") {
		t.Fatalf("%s: %d %q, want %d text/html", what, status, ctype, wantStatus)
	}
	// Accessibility basics every page keeps: a language, a viewport, one
	// h1, and the verdict said in words (not by colour alone).
	for _, w := range append([]string{`<html lang="en">`, `name="viewport"`, "<h1"}, wants...) {
		if !strings.Contains(body, w) {
			t.Errorf("%s: page lacks %q:\n%s", what, w, body)
		}
	}
	if strings.Count(body, "<h1") != 1 || strings.Contains(body, "http://") || strings.Contains(body, "https://") {
		t.Errorf("%s: one h1 and no external reference expected:\n%s", what, body)
	}
}

// Without a redirect for the SKU a browser gets the shopper's pages, each
// with the status an API client gets, and API clients still get JSON.
func TestShopperPages(t *testing.T) {
	_, hs := newBolt(t, noRedirects)
	upload(t, hs.URL, syncToken, 0, bindings(2, "SKU-A"))
	d := deriver(t, 1)

	st, ct, body := browserGet(t, hs.URL+tapPath(sunURL(t, d, testUID(0), 2)))
	wantPage(t, "genuine, first", st, ct, body, 200, "This product is genuine", "Trail shoe, green", "SKU-A", "b1", string(uidHex(testUID(0))), "first tap")
	st, ct, body = browserGet(t, hs.URL+tapPath(sunURL(t, d, testUID(0), 5)))
	wantPage(t, "genuine, seen", st, ct, body, 200, "This product is genuine", "read 3 times before")
	st, ct, body = browserGet(t, hs.URL+tapPath(sunURL(t, d, testUID(0), 5)))
	wantPage(t, "replayed", st, ct, body, 409, "already used", "copied")
	st, ct, body = browserGet(t, hs.URL+tapPath(sunURL(t, d, testUID(7), 2)))
	wantPage(t, "unknown", st, ct, body, 404, "do not know this tag")
	bad := sunURL(t, deriver(t, 2), testUID(1), 2)
	st, ct, body = browserGet(t, hs.URL+tapPath(bad))
	wantPage(t, "bad mac", st, ct, body, 403, "Not genuine", "not made by a tag of the brand")
	st, ct, body = browserGet(t, hs.URL+"/t?picc_data=zz&cmac=00")
	wantPage(t, "malformed", st, ct, body, 400, "Not genuine", "not a link made by")

	code, a := tap(t, hs.URL, sunURL(t, d, testUID(1), 2))
	if code != 200 || a.Result != serve.ResultGenuine || a.SKU != "SKU-A" || a.Batch != "b1" || a.URL != "" {
		t.Fatalf("json: %d %+v", code, a)
	}
}

// A brand's template for one SKU replaces the built-in genuine page of
// that SKU only; a template that does not render stops New.
func TestShopperPagesBrandOverride(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "SKU-B"), 0o755)
	os.WriteFile(filepath.Join(dir, "SKU-B", "genuine.html"), []byte(`{{define "body"}}<h1>Welcome to Brand B</h1><p>{{.Product}} {{.Batch}}</p>{{end}}`), 0o644)
	_, hs := newBolt(t, func(c *serve.Config) { noRedirects(c); c.Pages.Dir = dir })
	bs := bindings(2, "SKU-A")
	bs[1].SKU = "SKU-B"
	upload(t, hs.URL, syncToken, 0, bs)
	d := deriver(t, 1)
	st, ct, body := browserGet(t, hs.URL+tapPath(sunURL(t, d, testUID(1), 2)))
	wantPage(t, "brand B", st, ct, body, 200, "Welcome to Brand B", "SKU-B b1")
	st, ct, body = browserGet(t, hs.URL+tapPath(sunURL(t, d, testUID(0), 2)))
	wantPage(t, "built-in A", st, ct, body, 200, "This product is genuine")
	if strings.Contains(body, "Brand B") {
		t.Fatal("SKU-A got SKU-B's page")
	}

	os.WriteFile(filepath.Join(dir, "SKU-B", "genuine.html"), []byte(`{{define "body"}}{{.NoSuchField}}{{end}}`), 0o644)
	cfg := baseConfig(t)
	cfg.DBPath = filepath.Join(t.TempDir(), "x.db")
	cfg.Pages.Dir = dir
	if s, err := serve.New(cfg); err == nil {
		s.Close()
		t.Fatal("a brand page that does not render was accepted")
	}
}
