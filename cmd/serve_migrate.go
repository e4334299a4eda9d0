package cmd

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"

	"github.com/tagline-station/tagline/serve/store/pgstore"
)

// newServeMigrateCmd is `tagline serve migrate`: every pending PostgreSQL
// migration, the ones serve does not run on start included.
func newServeMigrateCmd() *cobra.Command {
	var storeURL string
	c := &cobra.Command{
		Use:   "migrate --store postgres://...",
		Short: "Bring a PostgreSQL store's schema to this release's version",
		Long: `migrate applies the pending versioned migrations of a PostgreSQL store in
order, each once, under the schema's lock. tagline serve applies the online
ones itself on start; run migrate while no instance serves when serve says
a migration waits for it. A database made before versioning is adopted in
place, its data kept.`,
		Example: `  tagline serve migrate --store postgres://tagline@db.example/tagline`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			kind, where, err := parseStoreSpec("--store", storeURL)
			if err != nil {
				return err
			}
			if kind != "postgres" {
				return usageErrorf("a bolt store has no migrations; give --store postgres://...", "--store is not PostgreSQL")
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), 10*time.Minute)
			defer cancel()
			pool, err := pgxpool.New(ctx, where)
			if err != nil {
				return withCode(ExitUsage, fmt.Errorf("postgres: %w", err), "check the postgres:// URL")
			}
			defer pool.Close()
			applied, err := pgstore.Migrate(ctx, pool, false)
			if err != nil {
				return withCode(ExitFailure, err, "check that the database is reachable and the role may create tables")
			}
			v, err := pgstore.SchemaVersion(ctx, pool)
			if err != nil {
				return withCode(ExitFailure, err, "check that the database is reachable")
			}
			fmt.Fprintf(cmd.OutOrStdout(), "schema at version %d; applied %v\n", v, applied)
			return nil
		},
	}
	c.Flags().StringVar(&storeURL, "store", "", "`URL` of the PostgreSQL store (postgres://...)")
	return c
}
