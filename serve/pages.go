package serve

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/tagline-station/tagline/manifest"
	"github.com/tagline-station/tagline/sdm"
)

// Pages configures the pages a browser gets when a tap is not redirected:
// a genuine tap of a SKU with no redirect URL, or any other result when
// Config.RejectURL is empty.
type Pages struct {
	// Lang is the pages' language tag (default "en").
	Lang string
	// Products names the product of each SKU on the genuine page (default:
	// the SKU).
	Products map[string]string
	// Dir, when set, holds a brand's templates per SKU:
	// Dir/<SKU>/<page>.html with page one of genuine, replayed. Each file
	// is parsed over the built-in set, so it may define "body" only (and
	// keep the built-in layout) or "layout" too. Files are read once, at
	// New, up to MaxPageBytes each.
	Dir string
}

// MaxPageBytes bounds a brand's template file.
const MaxPageBytes = 64 << 10

//go:embed pages/*.html
var pageFS embed.FS

// page names: the file of each tap result.
var pageOf = map[string]string{
	ResultGenuine:   "genuine",
	ResultReplayed:  "replayed",
	ResultUnknown:   "unknown",
	ResultBadMAC:    "notgenuine",
	ResultMalformed: "notgenuine",
	ResultError:     "error",
}

var pageTitle = map[string]string{
	ResultGenuine:   "Genuine product",
	ResultReplayed:  "Link already used",
	ResultUnknown:   "Unknown tag",
	ResultBadMAC:    "Not genuine",
	ResultMalformed: "Not a tag link",
	ResultError:     "Try again later",
}

// pageSet is the parsed templates: built-in per page, and a brand's per
// SKU and page.
type pageSet struct {
	lang     string
	products map[string]string
	builtin  map[string]*template.Template
	brand    map[string]map[string]*template.Template // sku → page → template
}

// pageData is what a template sees.
type pageData struct {
	Lang, Title, Result string
	Product, SKU, Batch string
	UID                 manifest.UID
	ReadCtr             uint32
	FirstTap            bool
	ReadsBefore         int
	Malformed           bool
	Time                string
	Tamper              sdm.Tamper // TagTamper: closed, opened, invalid; empty without {tt}
}

func loadPages(cfg Pages) (*pageSet, error) {
	ps := &pageSet{lang: cfg.Lang, products: cfg.Products, builtin: map[string]*template.Template{}, brand: map[string]map[string]*template.Template{}}
	if ps.lang == "" {
		ps.lang = "en"
	}
	layout := template.Must(template.ParseFS(pageFS, "pages/layout.html"))
	for _, name := range []string{"genuine", "replayed", "unknown", "notgenuine", "error"} {
		t := template.Must(template.Must(layout.Clone()).ParseFS(pageFS, "pages/"+name+".html"))
		ps.builtin[name] = t
	}
	if cfg.Dir == "" {
		return ps, nil
	}
	skus, err := os.ReadDir(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("serve: brand pages: %w (check Pages.Dir)", err)
	}
	for _, e := range skus {
		if !e.IsDir() {
			continue
		}
		for _, name := range []string{"genuine", "replayed"} {
			t, err := loadBrandPage(filepath.Join(cfg.Dir, e.Name(), name+".html"), ps.builtin[name])
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err != nil {
				return nil, err
			}
			if ps.brand[e.Name()] == nil {
				ps.brand[e.Name()] = map[string]*template.Template{}
			}
			ps.brand[e.Name()][name] = t
		}
	}
	return ps, nil
}

// loadBrandPage parses a brand's file over a clone of the built-in page,
// and renders it once with sample data so that a broken template fails at
// start, not on a shopper's phone.
func loadBrandPage(path string, base *template.Template) (*template.Template, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxPageBytes+1))
	if err != nil {
		return nil, fmt.Errorf("serve: brand page %s: %w", path, err)
	}
	if len(b) > MaxPageBytes {
		return nil, fmt.Errorf("serve: brand page %s is larger than %d bytes; keep it small", path, MaxPageBytes)
	}
	t, err := template.Must(base.Clone()).Parse(string(b))
	if err != nil {
		return nil, fmt.Errorf("serve: brand page %s: %w", path, err)
	}
	sample := pageData{Lang: "en", Title: "t", Result: ResultGenuine, Product: "p", SKU: "s", Batch: "b", UID: "04", Time: "now"}
	if err := t.ExecuteTemplate(io.Discard, "layout", sample); err != nil {
		return nil, fmt.Errorf("serve: brand page %s does not render: %w", path, err)
	}
	return t, nil
}

// render writes the page of a tap answer with the status API clients get.
func (ps *pageSet) render(w http.ResponseWriter, ans TapAnswer, now time.Time) {
	name := pageOf[ans.Result]
	t := ps.builtin[name]
	if bt := ps.brand[ans.SKU][name]; bt != nil {
		t = bt
	}
	d := pageData{
		Lang: ps.lang, Title: pageTitle[ans.Result], Result: ans.Result,
		SKU: ans.SKU, Batch: ans.Batch, UID: ans.UID, ReadCtr: ans.ReadCtr,
		FirstTap: ans.readsBefore == 0, ReadsBefore: ans.readsBefore, Tamper: ans.Tamper,
		Malformed: ans.Result == ResultMalformed,
		Time:      now.UTC().Format("2 Jan 2006 15:04 UTC"),
	}
	d.Product = ps.products[ans.SKU]
	if d.Product == "" {
		d.Product = ans.SKU
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", d); err != nil {
		// Checked at load; a failure here is a bug, not the shopper's.
		buf.Reset()
		ps.builtin["error"].ExecuteTemplate(&buf, "layout", pageData{Lang: ps.lang, Title: pageTitle[ResultError], Time: d.Time})
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(tapStatus[ans.Result])
	w.Write(buf.Bytes())
}

// readsSince is how many reads of the tag came between the station's
// read-back (binding counter) and this tap: 0 for the first shopper tap.
func readsSince(bound, ctr uint32) int {
	if ctr <= bound+1 {
		return 0
	}
	return int(ctr - bound - 1)
}

// initWeb loads the shopper's pages and the verdict key.
func (s *Server) initWeb() error {
	var err error
	if s.pages, err = loadPages(s.cfg.Pages); err != nil {
		return err
	}
	if s.verdict, err = newVerdictSigner(s.cfg.Verdict); err != nil {
		return err
	}
	return nil
}
