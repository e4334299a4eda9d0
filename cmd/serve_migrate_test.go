package cmd

import (
	"strings"
	"testing"

	"github.com/tagline-station/tagline/internal/pgtest"
)

// tagline serve migrate brings a fresh database to the newest version,
// then finds nothing to do; a bolt store is a usage error.
func TestServeMigrate(t *testing.T) {
	c := newCLI(t)
	c.must(2, "serve", "migrate", "--store", "bolt:"+c.path("s.db"))
	pg := pgtest.Start(t)
	dsn := pg.CreateDB(t, "migrate")
	r := c.must(0, "serve", "migrate", "--store", dsn)
	if !strings.Contains(r.stdout, "schema at version 9; applied [1 2 3 4 5 6 7 8 9]") {
		t.Fatalf("first run: %s", r)
	}
	r = c.must(0, "serve", "migrate", "--store", dsn)
	if !strings.Contains(r.stdout, "schema at version 9; applied []") {
		t.Fatalf("second run: %s", r)
	}
}
