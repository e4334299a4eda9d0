package serve

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tagline-station/tagline/sdm"
)

// The genuine page says whether the package's seal is intact or broken
// when the tag mirrors its tamper loop, and nothing about a seal when it
// does not.
func TestGenuinePageShowsTheSeal(t *testing.T) {
	ps, err := loadPages(Pages{})
	if err != nil {
		t.Fatal(err)
	}
	page := func(tm sdm.Tamper) string {
		w := httptest.NewRecorder()
		ps.render(w, TapAnswer{Result: ResultGenuine, UID: "04111FE0000001", SKU: "S", Tamper: tm}, time.Unix(0, 0))
		return w.Body.String()
	}
	if p := page(sdm.TamperOpened); !strings.Contains(p, "This package has been opened") || !strings.Contains(p, "<dd>Broken</dd>") || !strings.Contains(p, `role="alert"`) {
		t.Errorf("opened:\n%s", p)
	}
	if p := page(sdm.TamperClosed); strings.Contains(p, "opened") || !strings.Contains(p, "<dd>Intact</dd>") {
		t.Errorf("closed:\n%s", p)
	}
	if p := page(sdm.TamperNone); strings.Contains(p, "Seal") {
		t.Errorf("no tamper loop:\n%s", p)
	}
}
