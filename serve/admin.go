package serve

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"html"
	"html/template"
	"io"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tagline-station/tagline/serve/store"
)

// AdminConfig is the brand's view, /admin (see doc.go, "The brand's
// view"). No token file: no /admin.
type AdminConfig struct {
	// TokenFile holds the admin token (16 to 256 characters, one line).
	TokenFile string
	// Days is the default span of the view (default 30; ?days=1..400).
	Days int
}

const maxAdminDays = 400

type adminAuth struct{ hash [32]byte }

func loadAdminToken(path string) (*adminAuth, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("serve: admin token: %w (check Admin.TokenFile)", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 4097))
	if err != nil {
		return nil, fmt.Errorf("serve: admin token: %w", err)
	}
	tok := strings.TrimSpace(string(b))
	if len(b) > 4096 || len(tok) < 16 || len(tok) > 256 || strings.ContainsAny(tok, " \t\r\n") {
		return nil, fmt.Errorf("serve: the admin token in %s must be one line of 16 to 256 characters (e.g. head -c 24 /dev/urandom | base64)", path)
	}
	return &adminAuth{hash: sha256.Sum256([]byte(tok))}, nil
}

// allowed takes the token as a bearer token or as the password of HTTP
// Basic authentication (so that a browser can ask for it), and compares
// hashes in constant time.
func (a *adminAuth) allowed(r *http.Request) bool {
	tok := ""
	if _, pw, ok := r.BasicAuth(); ok {
		tok = pw
	} else if h := r.Header.Get("Authorization"); len(h) > 7 && strings.EqualFold(h[:7], "Bearer ") {
		tok = h[7:]
	}
	sum := sha256.Sum256([]byte(tok))
	return tok != "" && subtle.ConstantTimeCompare(sum[:], a.hash[:]) == 1
}

func (s *Server) initAdmin(mux *http.ServeMux) error {
	if s.cfg.Admin.TokenFile == "" {
		return nil
	}
	auth, err := loadAdminToken(s.cfg.Admin.TokenFile)
	if err != nil {
		return err
	}
	guard := func(h http.HandlerFunc) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", "no-store")
			if !auth.allowed(r) {
				w.Header().Set("WWW-Authenticate", `Basic realm="tagline admin", charset="UTF-8"`)
				http.Error(w, "admin token required\n", http.StatusUnauthorized)
				return
			}
			h(w, r)
		}
	}
	mux.HandleFunc("GET /admin", guard(s.handleAdmin))
	mux.HandleFunc("GET /admin/summary.json", guard(s.handleAdminJSON))
	mux.HandleFunc("GET /admin/summary.csv", guard(s.handleAdminCSV))
	return nil
}

// summary is the view's data over ?days (bounded).
func (s *Server) summary(r *http.Request) (store.Summary, int, error) {
	days := s.cfg.Admin.Days
	if days <= 0 {
		days = 30
	}
	if q := r.URL.Query().Get("days"); q != "" {
		n, err := strconv.Atoi(q)
		if err != nil || n < 1 || n > maxAdminDays {
			return store.Summary{}, 0, fmt.Errorf("days is 1 to %d", maxAdminDays)
		}
		days = n
	}
	now := s.now().UTC()
	since := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC).AddDate(0, 0, -(days - 1))
	h := s.History()
	if h == nil {
		return store.NewSummary(since), days, nil
	}
	sum, err := h.Summary(r.Context(), since)
	return sum, days, err
}

func (s *Server) summaryOr503(w http.ResponseWriter, r *http.Request) (store.Summary, int, bool) {
	sum, days, err := s.summary(r)
	if err != nil && days == 0 {
		http.Error(w, err.Error()+"\n", http.StatusBadRequest)
		return sum, 0, false
	}
	if err != nil {
		s.log.Error("admin summary failed", "err", err)
		http.Error(w, "the history cannot be read right now; retry\n", http.StatusServiceUnavailable)
		return sum, 0, false
	}
	return sum, days, true
}

func (s *Server) handleAdminJSON(w http.ResponseWriter, r *http.Request) {
	sum, _, ok := s.summaryOr503(w, r)
	if !ok {
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(sum)
}

// handleAdminCSV writes the summary as rows of section,key,count, then
// the alerts as alert,<time>,<kind>,<uid>,<sku>,<ctr>.
func (s *Server) handleAdminCSV(w http.ResponseWriter, r *http.Request) {
	sum, _, ok := s.summaryOr503(w, r)
	if !ok {
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="tagline-summary.csv"`)
	cw := csv.NewWriter(w)
	cw.Write([]string{"section", "key", "count"})
	for _, sec := range []struct {
		name string
		m    map[string]int
	}{{"by_sku", sum.BySKU}, {"by_batch", sum.ByBatch}, {"by_day", sum.ByDay}, {"by_result", sum.ByResult}, {"alerts_by_day", sum.AlertsByDay}} {
		for _, k := range sortedKeys(sec.m) {
			cw.Write([]string{sec.name, csvSafe(k), strconv.Itoa(sec.m[k])})
		}
	}
	for _, a := range sum.Alerts {
		cw.Write([]string{"alert", a.At.UTC().Format(time.RFC3339), a.Kind, string(a.UID), csvSafe(a.SKU), strconv.FormatUint(uint64(a.Ctr), 10)})
	}
	cw.Flush()
}

// csvSafe keeps a SKU or batch from being read as a formula by a
// spreadsheet.
func csvSafe(v string) string {
	if v != "" && strings.ContainsRune("=+-@\t\r", rune(v[0])) {
		return "'" + v
	}
	return v
}

func sortedKeys(m map[string]int) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

type adminData struct {
	Days                               int
	Since, Now                         string
	Taps, Alerts                       int
	PerDay, Results, SKUs, Batches, AD template.HTML
	AlertList                          []store.Alert
}

func (s *Server) handleAdmin(w http.ResponseWriter, r *http.Request) {
	sum, days, ok := s.summaryOr503(w, r)
	if !ok {
		return
	}
	now := s.now().UTC()
	var dayKeys []string
	for d := sum.Since; !d.After(now); d = d.AddDate(0, 0, 1) {
		dayKeys = append(dayKeys, store.Day(d))
	}
	alerts := 0
	for _, n := range sum.AlertsByDay {
		alerts += n
	}
	data := adminData{
		Days: days, Since: store.Day(sum.Since), Now: now.Format("2 Jan 2006 15:04 UTC"), Taps: sum.Taps, Alerts: alerts,
		PerDay:    dayChart("Taps per day", dayKeys, sum.ByDay, "#2a5d8f"),
		AD:        dayChart("Clone alerts per day", dayKeys, sum.AlertsByDay, "#a11d1d"),
		Results:   barChart("Taps by verdict", sum.ByResult, sortedByCount(sum.ByResult)),
		SKUs:      barChart("Genuine taps per SKU", sum.BySKU, sortedByCount(sum.BySKU)),
		Batches:   barChart("Genuine taps per batch", sum.ByBatch, sortedByCount(sum.ByBatch)),
		AlertList: sum.Alerts,
	}
	var buf bytes.Buffer
	if err := adminPage.Execute(&buf, data); err != nil {
		s.log.Error("admin page failed", "err", err)
		http.Error(w, "the admin page failed\n", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	w.Write(buf.Bytes())
}

func sortedByCount(m map[string]int) []string {
	ks := sortedKeys(m)
	sort.SliceStable(ks, func(i, j int) bool { return m[ks[i]] > m[ks[j]] })
	if len(ks) > 20 {
		ks = ks[:20] // the rest is in the exports
	}
	return ks
}

// barChart is a horizontal bar chart as inline SVG; labels and counts are
// also text, so the chart reads without colour.
func barChart(title string, m map[string]int, keys []string) template.HTML {
	const w, row, labelW = 340, 26, 120
	top := 0
	for _, k := range keys {
		top = max(top, m[k])
	}
	var b strings.Builder
	h := max(len(keys), 1)*row + 8
	fmt.Fprintf(&b, `<svg role="img" aria-label="%s" viewBox="0 0 %d %d" width="100%%" xmlns="http://www.w3.org/2000/svg">`, html.EscapeString(title), w, h)
	if len(keys) == 0 {
		fmt.Fprintf(&b, `<text x="0" y="18" font-size="13" fill="#444">no taps yet</text>`)
	}
	for i, k := range keys {
		y := i*row + 4
		bw := 0
		if top > 0 {
			bw = m[k] * (w - labelW - 50) / top
		}
		fmt.Fprintf(&b, `<text x="0" y="%d" font-size="13" fill="#1a1a1a">%s</text>`, y+15, html.EscapeString(trim(k, 16)))
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="18" fill="#2a5d8f"/>`, labelW, y+2, max(bw, 1))
		fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="13" fill="#1a1a1a">%d</text>`, labelW+bw+6, y+15, m[k])
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// dayChart is a column chart of counts per day.
func dayChart(title string, days []string, m map[string]int, colour string) template.HTML {
	const w, h, base = 340, 140, 115
	top := 1
	for _, d := range days {
		top = max(top, m[d])
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg role="img" aria-label="%s" viewBox="0 0 %d %d" width="100%%" xmlns="http://www.w3.org/2000/svg">`, html.EscapeString(title), w, h)
	fmt.Fprintf(&b, `<line x1="0" y1="%d" x2="%d" y2="%d" stroke="#666"/>`, base, w, base)
	fmt.Fprintf(&b, `<text x="0" y="12" font-size="12" fill="#444">max %d</text>`, top)
	n := max(len(days), 1)
	colW := float64(w) / float64(n)
	for i, d := range days {
		bh := m[d] * (base - 20) / top
		fmt.Fprintf(&b, `<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="%s"><title>%s: %d</title></rect>`,
			float64(i)*colW+colW*0.1, base-bh, colW*0.8, bh, colour, d, m[d])
	}
	if len(days) > 0 {
		fmt.Fprintf(&b, `<text x="0" y="%d" font-size="12" fill="#444">%s</text>`, h-6, days[0])
		fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="12" fill="#444" text-anchor="end">%s</text>`, w, h-6, days[len(days)-1])
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

func trim(s string, n int) string {
	r := []rune(s)
	if len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

var adminPage = template.Must(template.New("admin").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>Taps: the brand's view</title>
<style>
body{margin:0;font:1rem/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:#f6f6f4;color:#1a1a1a}
main{max-width:48rem;margin:0 auto;padding:1rem 1rem 3rem}
h1{font-size:1.5rem;margin:.5rem 0}h2{font-size:1.1rem;margin:1.4rem 0 .4rem}
section{background:#fff;border:1px solid #ccc;border-radius:.5rem;padding:.75rem;margin:.75rem 0}
.totals{display:flex;gap:1rem;flex-wrap:wrap}.totals p{margin:0;font-size:1.05rem}
table{border-collapse:collapse;width:100%;font-size:.85rem}td,th{text-align:left;padding:.2rem .3rem;border-bottom:1px solid #ddd;word-break:break-all}
a{color:#1d4f80}
</style>
</head>
<body>
<main>
<h1>Taps of the last {{.Days}} days</h1>
<div class="totals"><p><strong>{{.Taps}}</strong> taps</p><p><strong>{{.Alerts}}</strong> clone alerts</p><p>since {{.Since}}</p></div>
<section aria-labelledby="h-day"><h2 id="h-day">Taps per day</h2>{{.PerDay}}</section>
<section aria-labelledby="h-res"><h2 id="h-res">Verdicts</h2>{{.Results}}</section>
<section aria-labelledby="h-sku"><h2 id="h-sku">Genuine taps per SKU</h2>{{.SKUs}}</section>
<section aria-labelledby="h-batch"><h2 id="h-batch">Genuine taps per batch</h2>{{.Batches}}</section>
<section aria-labelledby="h-al"><h2 id="h-al">Clone alerts</h2>{{.AD}}
{{if .AlertList}}<table><thead><tr><th>Time (UTC)</th><th>Kind</th><th>Tag</th><th>SKU</th><th>Counter</th></tr></thead><tbody>
{{range .AlertList}}<tr><td>{{.At.Format "2006-01-02 15:04:05"}}</td><td>{{.Kind}}</td><td>{{.UID}}</td><td>{{.SKU}}</td><td>{{.Ctr}}</td></tr>
{{end}}</tbody></table>{{else}}<p>No clone alerts.</p>{{end}}</section>
<p>Export: <a href="/admin/summary.csv?days={{.Days}}">CSV</a> · <a href="/admin/summary.json?days={{.Days}}">JSON</a></p>
<p><small>As of {{.Now}}.</small></p>
</main>
</body>
</html>
`))
