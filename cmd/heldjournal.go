package cmd

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/tagline-station/tagline/batch"
	"github.com/tagline-station/tagline/batch/snapshot"
)

// shareJournal lets read-only commands read the journal that store holds
// (package snapshot) until the returned function is called, before the
// store closes. Without the socket the station still runs; readers then
// get the "held" message.
func (e *env) shareJournal(store *batch.Store) func() {
	srv, err := snapshot.Serve(store, snapshot.Holder{Station: store.StationID(), PID: os.Getpid(), Since: e.now()}, e.log)
	if err != nil {
		e.log.Warn("journal not shared with readers while this runs", "err", err)
		return func() {}
	}
	return func() { _ = srv.Close() }
}

// heldError says who holds the journal when a station answers for it.
func heldError(path string, err error) error {
	h, aerr := snapshot.Ask(context.Background(), path)
	if aerr != nil {
		return err
	}
	return fmt.Errorf("journal %s is held by a running station (%s): %w", path, h, err)
}

// openHeldCopy reads a held journal through a copy its holder sends.
func (e *env) openHeldCopy(path string, locked error) (*batch.Store, error) {
	cp, h, err := snapshot.Fetch(context.Background(), path, os.TempDir())
	if err != nil {
		if errors.Is(err, snapshot.ErrNoHolder) {
			return nil, locked
		}
		return nil, fmt.Errorf("%w (%w)", locked, err)
	}
	st, err := batch.Open(cp, batch.Options{ReadOnly: true, CopyOf: path, Now: e.now})
	if err != nil {
		os.Remove(cp)
		return nil, err
	}
	fmt.Fprintf(e.stderr, "tagline: note: journal %s is held by a running station (%s); reading a copy taken now\n", path, h)
	return st, nil
}
