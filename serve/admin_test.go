package serve_test

import (
	"encoding/csv"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tagline-station/tagline/serve"
	"github.com/tagline-station/tagline/serve/store"
)

const adminToken = "admin-token-0123456789abcdef"

// adminServer is a server with an admin token and a history of a few taps
// and alerts.
func adminServer(t *testing.T) (*serve.Server, string) {
	t.Helper()
	tf := filepath.Join(t.TempDir(), "admin.token")
	os.WriteFile(tf, []byte(adminToken+"\n"), 0o600)
	clk := &clock{t: time.Date(2026, 6, 3, 9, 0, 0, 0, time.UTC)}
	s, hs := newBolt(t, func(c *serve.Config) {
		noRedirects(c)
		c.Now = clk.now
		c.Admin = serve.AdminConfig{TokenFile: tf, Days: 7}
		c.History.PlaceHeader = "X-Place"
	})
	bs := bindings(4, "SKU-A")
	bs[3].SKU, bs[3].BatchID = "=SKU-B", "b2"
	upload(t, hs.URL, syncToken, 0, bs)
	d := deriver(t, 1)
	tapFrom(t, hs.URL, sunURL(t, d, testUID(0), 2), "FR")
	tapFrom(t, hs.URL, sunURL(t, d, testUID(0), 2), "FR")
	clk.add(24 * time.Hour)
	tapFrom(t, hs.URL, sunURL(t, d, testUID(1), 2), "FR")
	tapFrom(t, hs.URL, sunURL(t, d, testUID(1), 3), "DE")
	tapFrom(t, hs.URL, sunURL(t, d, testUID(3), 2), "FR")
	tapFrom(t, hs.URL, sunURL(t, deriver(t, 2), testUID(2), 2), "FR")
	s.Flush()
	return s, hs.URL
}

func adminGet(t *testing.T, u string, auth func(*http.Request)) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", u, nil)
	if auth != nil {
		auth(req)
	}
	resp, err := jsonClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp, string(b)
}

func bearer(tok string) func(*http.Request) {
	return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) }
}

// /admin and its exports need the token; they show the history's counts,
// per SKU, batch, day and verdict, and the clone alerts.
func TestAdmin(t *testing.T) {
	_, base := adminServer(t)
	for name, auth := range map[string]func(*http.Request){
		"none": nil, "wrong": bearer(adminToken + "x"), "sync token": bearer(syncToken), "empty basic": func(r *http.Request) { r.SetBasicAuth("admin", "") },
	} {
		for _, p := range []string{"/admin", "/admin/summary.json", "/admin/summary.csv"} {
			resp, body := adminGet(t, base+p, auth)
			if resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") == "" || strings.Contains(body, "SKU-A") {
				t.Errorf("%s %s: %d %q", name, p, resp.StatusCode, body)
			}
		}
	}

	resp, body := adminGet(t, base+"/admin/summary.json", bearer(adminToken))
	var sum store.Summary
	if resp.StatusCode != 200 || json.Unmarshal([]byte(body), &sum) != nil {
		t.Fatalf("json: %d %s", resp.StatusCode, body)
	}
	if sum.Taps != 6 || sum.BySKU["SKU-A"] != 3 || sum.BySKU["=SKU-B"] != 1 || sum.ByBatch["b1"] != 3 ||
		sum.ByDay["2026-06-03"] != 2 || sum.ByDay["2026-06-04"] != 4 || sum.ByResult["replayed"] != 1 || sum.ByResult["bad_mac"] != 1 ||
		sum.AlertsByDay["2026-06-03"] != 1 || sum.AlertsByDay["2026-06-04"] != 1 || len(sum.Alerts) != 2 {
		t.Errorf("summary: %+v", sum)
	}

	resp, body = adminGet(t, base+"/admin/summary.csv", func(r *http.Request) { r.SetBasicAuth("brand", adminToken) })
	cr := csv.NewReader(strings.NewReader(body))
	cr.FieldsPerRecord = -1 // counts have 3 fields, alerts 6
	rows, err := cr.ReadAll()
	if resp.StatusCode != 200 || err != nil {
		t.Fatalf("csv: %d %v %s", resp.StatusCode, err, body)
	}
	want := map[string]bool{"by_sku,SKU-A,3": true, "by_sku,'=SKU-B,1": true, "by_day,2026-06-04,4": true, "by_result,genuine,4": true, "alerts_by_day,2026-06-03,1": true}
	alerts := 0
	for _, r := range rows {
		delete(want, strings.Join(r, ","))
		if r[0] == "alert" {
			alerts++
		}
	}
	if len(want) != 0 || alerts != 2 {
		t.Errorf("csv lacks %v (alerts %d):\n%s", want, alerts, body)
	}

	resp, body = adminGet(t, base+"/admin", bearer(adminToken))
	for _, w := range []string{`<html lang="en">`, "<h1>Taps of the last 7 days</h1>", "<strong>6</strong> taps", "<strong>2</strong> clone alerts",
		`aria-label="Taps per day"`, `aria-label="Genuine taps per SKU"`, "counter_seen_twice", "two_places", "=SKU-B"} {
		if !strings.Contains(body, w) {
			t.Errorf("admin page lacks %q", w)
		}
	}
	if resp.StatusCode != 200 || strings.Contains(body, "https://") || strings.Contains(body, "<script") {
		t.Errorf("admin: %d", resp.StatusCode)
	}
	if resp, _ := adminGet(t, base+"/admin?days=0", bearer(adminToken)); resp.StatusCode != 400 {
		t.Errorf("days=0: %d", resp.StatusCode)
	}
}

// Without a token file there is no /admin; a short token is refused.
func TestAdminNeedsTokenFile(t *testing.T) {
	_, hs := newBolt(t, nil)
	if resp, _ := adminGet(t, hs.URL+"/admin", bearer(adminToken)); resp.StatusCode != 404 {
		t.Errorf("/admin without a token file: %d", resp.StatusCode)
	}
	tf := filepath.Join(t.TempDir(), "t")
	os.WriteFile(tf, []byte("short\n"), 0o600)
	cfg := baseConfig(t)
	cfg.DBPath = filepath.Join(t.TempDir(), "s.db")
	cfg.Admin.TokenFile = tf
	if s, err := serve.New(cfg); err == nil || strings.Contains(err.Error(), "short") && !strings.Contains(err.Error(), "16 to 256") {
		if s != nil {
			s.Close()
		}
		t.Errorf("short token: %v", err)
	}
}
