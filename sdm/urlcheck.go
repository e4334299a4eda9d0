package sdm

import (
	"fmt"
	"net/url"
	"path"
	"strconv"
	"strings"
	"unicode/utf8"
)

// A tag's URL is only worth writing if a phone sends it to the backend
// exactly as written: the backend finds the placeholders at fixed offsets
// and checks the MAC over the literal text, so one character a browser
// escapes, drops or normalises turns every tap into a failure while the
// station and QA (which read the NDEF file, not the request) still PASS.

// schemeHTTPS is the only scheme a template may use: phones open http
// links with a warning or upgrade them, and proxies on the way may
// rewrite them.
const schemeHTTPS = "https://"

// checkShape refuses a template that a phone would not send unchanged or
// that the backend could not route. Placeholders are still in raw.
func checkShape(raw string) error {
	if err := checkScheme(raw); err != nil {
		return err
	}
	if err := checkChars(raw); err != nil {
		return err
	}
	rest := raw[len(schemeHTTPS):]
	end := strings.IndexAny(rest, "/?")
	if end < 0 || rest[end] != '/' {
		return fmt.Errorf("%w: %q has no path after the host; write e.g. https://brand.example/t?p={picc}&m={mac}", ErrTemplate, raw)
	}
	if err := checkAuthority(rest[:end]); err != nil {
		return err
	}
	p, _, _ := strings.Cut(rest[end:], "?")
	return checkPath(p)
}

func checkScheme(raw string) error {
	switch {
	case strings.HasPrefix(raw, schemeHTTPS):
		return nil
	case len(raw) >= len(schemeHTTPS) && strings.EqualFold(raw[:len(schemeHTTPS)], schemeHTTPS):
		return fmt.Errorf("%w: write the scheme in lower case (https://)", ErrTemplate)
	case len(raw) >= 7 && strings.EqualFold(raw[:7], "http://"):
		return fmt.Errorf("%w: %q uses http://; phones warn about or rewrite plain http links: use https://", ErrTemplate, raw)
	}
	return fmt.Errorf("%w: %q must start with https://", ErrTemplate, raw)
}

// checkChars allows only printable ASCII that no browser escapes or
// rewrites anywhere in a URL. The braces of placeholders are checked by
// the placeholder parser.
func checkChars(raw string) error {
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if urlSafe(c) || c == '{' || c == '}' {
			continue
		}
		at := fmt.Sprintf("at character %d", utf8.RuneCountInString(raw[:i])+1)
		switch {
		case c == ' ':
			return fmt.Errorf("%w: a space %s; a phone sends it as %%20 and the url no longer matches: leave it out", ErrTemplate, at)
		case c >= utf8.RuneSelf:
			r, _ := utf8.DecodeRuneInString(raw[i:])
			return fmt.Errorf("%w: non-ASCII character %q %s; a phone sends it percent-encoded (or punycoded in the host): use ASCII letters, digits and -._~", ErrTemplate, r, at)
		case c < 0x20 || c == 0x7f:
			return fmt.Errorf("%w: control character %q %s; a url holds printable ASCII only", ErrTemplate, rune(c), at)
		case c == '#':
			return fmt.Errorf("%w: a fragment (#...) %s; a phone never sends the part after # to the backend: put the placeholders in the query, e.g. ?p={picc}&m={mac}", ErrTemplate, at)
		case c == '%':
			return fmt.Errorf("%w: a percent escape %s; browsers and proxies may decode or re-encode it: write the url without %%", ErrTemplate, at)
		}
		return fmt.Errorf("%w: character %q %s is escaped or rewritten by some phones; use letters, digits and -._~!$&()*+,;=:@/?", ErrTemplate, rune(c), at)
	}
	return nil
}

// urlSafe reports a byte that every browser sends as it is, in the path
// and in the query.
func urlSafe(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("-._~!$&()*+,;=:@/?", c) >= 0
}

// checkAuthority wants a lower-case DNS name and an optional port other
// than 443, which phones drop; no user information.
func checkAuthority(a string) error {
	if i := strings.IndexByte(a, '{'); i >= 0 {
		name := a[i+1:]
		if e := strings.IndexByte(name, '}'); e >= 0 {
			name = name[:e]
		}
		return fmt.Errorf("%w: {%s} is in the host name; put placeholders in the path or query", ErrTemplate, name)
	}
	if strings.Contains(a, "@") {
		return fmt.Errorf("%w: user information (...@) before the host; phones drop it or warn: remove it", ErrTemplate)
	}
	host, port, hasPort := strings.Cut(a, ":")
	if host == "" {
		return fmt.Errorf("%w: no host after https://", ErrTemplate)
	}
	for i := 0; i < len(host); i++ {
		c := host[i]
		switch {
		case c >= 'A' && c <= 'Z':
			return fmt.Errorf("%w: host %q has capitals; phones send host names in lower case: write %q", ErrTemplate, host, strings.ToLower(host))
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '.':
		default:
			return fmt.Errorf("%w: host %q: a host name holds letters, digits, '-' and '.'", ErrTemplate, host)
		}
	}
	if host[0] == '.' || host[len(host)-1] == '.' || strings.Contains(host, "..") {
		return fmt.Errorf("%w: host %q has an empty label", ErrTemplate, host)
	}
	if hasPort {
		n, err := strconv.Atoi(port)
		switch {
		case err != nil || n < 1 || n > 65535 || port[0] == '0':
			return fmt.Errorf("%w: port %q is not a number from 1 to 65535", ErrTemplate, port)
		case n == 443:
			return fmt.Errorf("%w: drop :443, the default port, which phones leave out of the url", ErrTemplate)
		}
	}
	return nil
}

// checkPath refuses what servers clean up (//, /./, /../) and placeholders
// the backend cannot route: its tap route is the fixed directory before
// the first placeholder, so one is needed.
func checkPath(p string) error {
	if strings.Contains(p, "//") {
		return fmt.Errorf("%w: path %q has an empty segment (//); servers merge it and the url no longer matches", ErrTemplate, p)
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == "." || seg == ".." {
			return fmt.Errorf("%w: path %q has a %q segment; phones resolve it before sending", ErrTemplate, p, seg)
		}
	}
	if i := strings.IndexByte(p, '{'); i >= 0 && strings.LastIndexByte(p[:i], '/') == 0 {
		return fmt.Errorf("%w: a placeholder in the first path segment of %q cannot be routed by the backend: put placeholders in the query (?p={picc}&m={mac}) or after a fixed directory (/t/{uid}...)", ErrTemplate, p)
	}
	return nil
}

// sampleValue is the hex text a placeholder is filled with in the round
// trip: distinct for each placeholder and holding digits and letters.
func sampleValue(name string, width int) string {
	const digits = "0123456789ABCDEF"
	shift := map[string]int{PhPICC: 1, PhMAC: 3, PhUID: 5, PhCtr: 7, PhEnc: 11, PhTT: 13}[name]
	b := make([]byte, width)
	for i := range b {
		b[i] = digits[(i+shift)%len(digits)]
	}
	return string(b)
}

// roundTrip fills the placeholders with sample values, takes the URL
// apart as an HTTP server receives it (scheme, host, request target, the
// path the router matches), rebuilds it as the backend does (the
// template's origin and the request target) and checks that the same
// placeholders come back.
func (t *Template) roundTrip() error {
	sample := placeholderRE.ReplaceAllStringFunc(t.raw, func(m string) string {
		name := m[1 : len(m)-1]
		return sampleValue(name, t.width(name))
	})
	fail := func(why string) error {
		return fmt.Errorf("%w: a phone would not send %q unchanged (%s)", ErrTemplate, sample, why)
	}
	u, err := url.Parse(sample)
	if err != nil {
		return fail(err.Error())
	}
	switch {
	case u.Scheme != "https" || u.Host == "" || u.Opaque != "":
		return fail("no https scheme and host")
	case u.User != nil:
		return fail("user information")
	case u.Fragment != "" || u.RawFragment != "" || strings.Contains(sample, "#"):
		return fail("a fragment")
	}
	if clean := cleanPath(u.Path); clean != u.Path {
		return fail("the server cleans the path to " + clean)
	}
	origin := t.raw[:len(schemeHTTPS)+strings.IndexByte(t.raw[len(schemeHTTPS):], '/')]
	got := origin + u.RequestURI()
	if got != sample {
		return fail("the backend would see " + got)
	}
	rest, err := t.match(got)
	if err != nil {
		return fail(err.Error())
	}
	for name, p := range t.pos {
		w := t.width(name)
		if rest[p:p+w] != sampleValue(name, w) {
			return fail("{" + name + "} does not come back")
		}
	}
	return nil
}

// cleanPath is the path an HTTP router matches: dot segments and empty
// segments removed, a trailing slash kept.
func cleanPath(p string) string {
	if p == "" {
		return "/"
	}
	c := path.Clean(p)
	if strings.HasSuffix(p, "/") && c != "/" {
		c += "/"
	}
	return c
}
