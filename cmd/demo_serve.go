package cmd

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tagline-station/tagline/batch"
	"github.com/tagline-station/tagline/keys"
	"github.com/tagline-station/tagline/manifest"
	"github.com/tagline-station/tagline/sdm"
	"github.com/tagline-station/tagline/serve"
	"github.com/tagline-station/tagline/syncer"
)

// demoServe closes the demo's loop: a local backend over a bbolt file
// next to the journal, the demo batch synced to it, and the URL of the
// next read of one demo tag (its counter one past the station's
// read-back), which opens the genuine page. It serves until ctx ends.
func (e *env) demoServe(cmd *cobra.Command, o *demoOptions, journal *batch.Store, b batch.Batch, master keys.Master, scheme keys.Scheme, raw string) error {
	if o.enc || o.lrp || !strings.Contains(raw, "{picc}") || !strings.Contains(raw, "{mac}") || strings.Contains(raw, "{enc}") {
		return usageErrorf("--serve works with an AES template of {picc} and {mac} only (no --enc, no --lrp)", "--serve cannot make a tap of this template")
	}
	pending, err := journal.Pending(100000)
	if err != nil {
		return err
	}
	var tag *manifest.Binding
	for i := range pending {
		if pending[i].BatchID == b.ID && pending[i].Outcome == manifest.Verified {
			tag = &pending[i]
		}
	}
	if tag == nil {
		return fmt.Errorf("demo: no verified tag of batch %s to tap", b.ID)
	}
	tokBytes := make([]byte, 24)
	rand.Read(tokBytes)
	token := hex.EncodeToString(tokBytes)
	srv, err := serve.New(serve.Config{
		Template: raw, Master: master, Scheme: scheme, KeyVersions: []byte{demoKeyVersion},
		Tokens: map[string]string{token: "*"}, DBPath: strings.TrimSuffix(journal.Path(), filepath.Ext(journal.Path())) + "-serve.db",
		Logger: slog.New(slog.DiscardHandler), Now: e.now,
		Pages: serve.Pages{Products: map[string]string{demoSKU: "Demo product"}},
		// The demo's own backend, for its own simulated batch.
		AcceptSimulated: true,
	})
	if err != nil {
		return err
	}
	defer srv.Close()
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return withCode(ExitFailure, fmt.Errorf("cannot listen on %s: %w", o.listen, err), "choose another address with --listen")
	}
	ctx, cancel := context.WithCancel(cmd.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	base := "http://" + ln.Addr().String()
	sum, err := syncer.Run(ctx, journal, syncer.Options{Endpoint: base + "/v1/sync", Token: token})
	if err != nil {
		cancel()
		<-done
		return withCode(ExitFailure, fmt.Errorf("demo: syncing to the local backend: %w", err), "run the demo again")
	}
	u, err := nextTap(raw, base, tag, master, scheme)
	if err != nil {
		cancel()
		<-done
		return err
	}
	out := cmd.OutOrStdout()
	fmt.Fprintf(out, "demo backend: %s (%d bindings synced; Ctrl-C to stop)\n", base, sum.Records)
	fmt.Fprintf(out, "open this fresh tap of tag %s in a browser: %s\n", tag.UID, u)
	return <-done
}

// nextTap is the URL the tag mirrors at its next read: counter one past
// the station's read-back, with the backend's address for the template's
// origin.
func nextTap(raw, base string, tag *manifest.Binding, master keys.Master, scheme keys.Scheme) (string, error) {
	d, err := keys.NewDeriver(scheme, master, tag.KeyVersion)
	if err != nil {
		return "", err
	}
	uid := tag.UID.Bytes()
	if len(uid) != 7 {
		return "", fmt.Errorf("demo: tag UID %q is not 7 bytes of hex", tag.UID)
	}
	ctr := tag.ReadCtr + 1
	rnd := make([]byte, 5)
	rand.Read(rnd)
	picc := sdm.EncryptPICCData(d.MetaRead(), uid, sdm.Counter(ctr), true, true, rnd)
	fk, err := d.FileRead(uid)
	if err != nil {
		return "", err
	}
	mac := sdm.MAC(fk, uid, sdm.Counter(ctr), nil)
	u := strings.NewReplacer("{picc}", strings.ToUpper(hex.EncodeToString(picc[:])), "{mac}", strings.ToUpper(hex.EncodeToString(mac[:]))).Replace(raw)
	i := strings.Index(u, "://")
	j := strings.IndexByte(u[i+3:], '/')
	return base + u[i+3+j:], nil
}
