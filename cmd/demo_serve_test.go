package cmd

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

// tagline demo --serve prints a tap that a browser opens as genuine (the
// first tap since the station), and only once.
func TestDemoServe(t *testing.T) {
	c := newCLI(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c.ctx = ctx
	c.stdout = &syncBuffer{}
	seen := c.stdout.when("in a browser: ")
	codec := make(chan int, 1)
	go func() { codec <- c.run("demo", "--count", "2", "--serve", "--listen", "127.0.0.1:0").code }()
	select {
	case <-seen:
	case code := <-codec:
		t.Fatalf("demo exited %d before printing a tap", code)
	case <-time.After(60 * time.Second):
		t.Fatal("no tap URL after 60s")
	}
	time.Sleep(20 * time.Millisecond) // the rest of the line
	m := regexp.MustCompile(`in a browser: (http://127\.0\.0\.1:\d+/\S+)`).FindStringSubmatch(c.stdout.String())
	if m == nil || !strings.Contains(c.stdout.String(), "2 bindings synced") {
		t.Fatalf("output: %s", c.stdout.String())
	}
	get := func() (int, string) {
		resp, err := http.Get(m[1])
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		return resp.StatusCode, string(b)
	}
	if code, body := get(); code != 200 || !strings.Contains(body, "This product is genuine") || !strings.Contains(body, "first tap") || !strings.Contains(body, "DEMO-SKU") {
		t.Fatalf("first open: %d %s", code, body)
	}
	if code, body := get(); code != 409 || !strings.Contains(body, "already used") {
		t.Fatalf("second open: %d %s", code, body)
	}
	cancel()
	select {
	case code := <-codec:
		if code != 0 {
			t.Fatalf("exit %d after Ctrl-C", code)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("demo --serve did not stop")
	}
}
