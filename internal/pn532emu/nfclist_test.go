package pn532emu

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/tagline-station/tagline/internal/testenv"
)

// TestNfcList runs libnfc's own nfc-list (Debian libnfc-bin) against the
// emulator: libnfc opens the pty through pn532_uart, probes every
// modulation and must list exactly the emulated type A tag.
func TestNfcList(t *testing.T) {
	bin, err := exec.LookPath("nfc-list")
	if err != nil {
		testenv.Missing(t, fmt.Sprintf("SKIPPING: nfc-list not installed (libnfc-bin): %v; run scripts/setup.sh", err))
	}
	e, _ := newEmu(t)
	e.SetTag(newTestTag())
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin)
	cmd.Env = append(os.Environ(), "LIBNFC_DEVICE="+e.Connstring(), "LIBNFC_LOG_LEVEL=0", "LIBNFC_AUTO_SCAN=false")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("nfc-list: %v\n%s", err, out)
	}
	for _, want := range []string{
		"1 ISO14443A passive target(s) found",
		"ATQA (SENS_RES): 03  44",
		"UID (NFCID1): 04  01  02  03  04  05  06",
		"SAK (SEL_RES): 20",
		"ATS: 77  77  71  02  80",
	} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("nfc-list output lacks %q:\n%s", want, out)
		}
	}
	if bytes.Count(out, []byte("passive target(s) found")) != 1 {
		t.Errorf("nfc-list reports other targets:\n%s", out)
	}
	if u := e.Unknown(); len(u) > 0 {
		t.Errorf("nfc-list sent unknown commands % X", u)
	}
	t.Logf("commands nfc-list used: % X", e.Commands())
}
