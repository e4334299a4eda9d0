package pgtest_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/tagline-station/tagline/internal/pgtest"
)

func TestStartsAndStops(t *testing.T) {
	s := pgtest.Start(t)
	dsn := s.CreateDB(t, "t1")
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var one int
	var fsync string
	if err := conn.QueryRow(ctx, "SELECT 1, current_setting('fsync')").Scan(&one, &fsync); err != nil || one != 1 || fsync != "on" {
		t.Fatalf("%d %q %v", one, fsync, err)
	}
}
