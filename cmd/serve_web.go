package cmd

import (
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/tagline-station/tagline/serve"
)

// serveWebOptions are the flags of the shopper's pages and the signed
// verdict (serve/pages.go, serve/verdict.go).
type serveWebOptions struct {
	pagesDir       string
	lang           string
	products       []string
	verdictKeyFile string
	verdictTTL     time.Duration
	adminTokenFile string
	retention      time.Duration
	keepIP         bool
	placeHeader    string
}

func serveWebFlags(f *pflag.FlagSet, o *serveWebOptions) {
	f.StringVar(&o.pagesDir, "pages-dir", "", "`DIR` of the brand's page templates, DIR/<SKU>/genuine.html and replayed.html (default: the built-in pages)")
	f.StringVar(&o.lang, "pages-lang", "en", "`LANG` tag of the shopper's pages")
	f.StringArrayVar(&o.products, "product", nil, "`SKU=NAME`: the product name the genuine page shows for SKU (repeatable)")
	f.StringVar(&o.verdictKeyFile, "verdict-key-file", "", "`FILE` of the HMAC-SHA256 key (32-64 bytes, raw or hex) that signs the verdict added to genuine redirects")
	f.DurationVar(&o.verdictTTL, "verdict-ttl", serve.DefaultVerdictTTL, "how long a signed verdict is valid (`DURATION`)")
	f.StringVar(&o.adminTokenFile, "admin-token-file", "", "`FILE` of the token of /admin, the brand's view (one line, 16-256 characters; default: no /admin)")
	f.DurationVar(&o.retention, "history-retention", 400*24*time.Hour, "how long the tap history is kept (`DURATION`)")
	f.BoolVar(&o.keepIP, "history-keep-ip", false, "keep each tap's client IP address in the history")
	f.StringVar(&o.placeHeader, "place-header", "", "`HEADER` a trusted proxy sets to a coarse place (country or region), kept with each tap")
}

// apply fills the web parts of a serve.Config.
func (o *serveWebOptions) apply(c *serve.Config) error {
	pages, verdict, err := o.config()
	c.Pages, c.Verdict = pages, verdict
	c.Admin = serve.AdminConfig{TokenFile: o.adminTokenFile}
	c.History = serve.HistoryConfig{Retention: o.retention, KeepIP: o.keepIP, PlaceHeader: o.placeHeader}
	return err
}

func (o *serveWebOptions) config() (serve.Pages, serve.VerdictConfig, error) {
	names := map[string]string{}
	for _, p := range o.products {
		sku, name, ok := strings.Cut(p, "=")
		if !ok || sku == "" {
			return serve.Pages{}, serve.VerdictConfig{}, usageErrorf("give --product as SKU=NAME", "--product %q has no '='", p)
		}
		names[sku] = name
	}
	return serve.Pages{Dir: o.pagesDir, Lang: o.lang, Products: names},
		serve.VerdictConfig{KeyFile: o.verdictKeyFile, TTL: o.verdictTTL}, nil
}
