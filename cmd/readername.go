package cmd

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/tagline-station/tagline/reader"
)

// maxAlias bounds a reader's alias: it is a lane's name on a screen
// panel, so a short word (left, right, lane-3) is what fits.
const maxAlias = 24

// cutAlias splits ALIAS=SPEC. A spec without '=' before its first ':' has
// no alias, so a PC/SC name that holds an '=' after its kind still
// parses as a name.
func cutAlias(s string) (alias, rest string, err error) {
	i := strings.IndexByte(s, '=')
	if i < 0 || strings.Contains(s[:i], ":") {
		return "", s, nil
	}
	alias, rest = strings.TrimSpace(s[:i]), strings.TrimSpace(s[i+1:])
	if err := checkAlias(alias); err != nil {
		return "", "", err
	}
	if rest == "" {
		return "", "", fmt.Errorf("alias %q names no reader: write %s=pcsc:NAME", alias, alias)
	}
	return alias, rest, nil
}

func checkAlias(a string) error {
	if a == "" {
		return errors.New("empty alias before '=': write e.g. left=pcsc:NAME")
	}
	if len(a) > maxAlias {
		return fmt.Errorf("alias %q is longer than %d characters", a, maxAlias)
	}
	for _, c := range a {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.'
		if !ok {
			return fmt.Errorf("alias %q: use letters, digits, '-', '_' and '.' only", a)
		}
	}
	return nil
}

// namedReader is a reader that goes by its lane's name.
type namedReader struct {
	reader.Reader
	name string
}

func (n namedReader) Info() reader.Info {
	in := n.Reader.Info()
	in.Name = n.name
	return in
}

// namedIndicator keeps the lights and buzzer of a reader that has them.
type namedIndicator struct {
	namedReader
	ind reader.Indicator
}

func (n namedIndicator) Indicate(ctx context.Context, passed bool) error {
	return n.ind.Indicate(ctx, passed)
}

// withName makes r report name as its own, unless it already does (the
// simulated reader, which verify needs as it is).
func withName(r reader.Reader, name string) reader.Reader {
	if r.Info().Name == name {
		return r
	}
	nr := namedReader{Reader: r, name: name}
	if ind, ok := r.(reader.Indicator); ok {
		return namedIndicator{namedReader: nr, ind: ind}
	}
	return nr
}
