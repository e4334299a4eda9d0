//go:build !cgo

package readerpaths

import (
	"testing"

	"github.com/tagline-station/tagline/internal/testenv"
)

// TestStacksNeedCgo stands for the PC/SC and libnfc tests, which are only
// compiled with cgo: it skips in a build without cgo, and fails when
// CI=true, where those tests must run.
func TestStacksNeedCgo(t *testing.T) {
	msg := "built without cgo: the PC/SC and libnfc reader paths are not tested; build with CGO_ENABLED=1 (scripts/setup.sh installs what cgo needs)"
	testenv.Missing(t, msg)
}
