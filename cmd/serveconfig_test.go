package cmd

import (
	"net/http"
	"strings"
	"testing"
)

// serve's newer settings have config keys under the one rule: the config
// file's admin_token_file opens /admin, a flag overrides it, and a bad
// duration is refused naming the key and the file.
func TestServeWebSettingsFromTheConfigFile(t *testing.T) {
	c := newCLI(t)
	kf := c.write("master.key", testKeyHex, 0o600)
	const tokA, tokB = "admin-token-from-config-0123", "admin-token-from-flag-456789"
	c.write("admin-a", tokA+"\n", 0o600)
	c.write("admin-b", tokB+"\n", 0o600)
	cfg := c.write("cfg/config.toml", `template = "`+demoTemplate+`"
master_key_file = "`+kf+`"
admin_token_file = "`+c.path("admin-a")+`"
verdict_ttl = "90s"
products = { "SKU-1" = "Blue cap" }
`, 0o600)
	status := func(addr, tok string) int {
		req, _ := http.NewRequest("GET", "http://"+addr+"/admin/summary.json", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	addr, stop := startServe(t, c, "--config", cfg, "--listen", "127.0.0.1:0", "--store", "bolt:"+c.path("a.db"))
	if got := status(addr, tokA); got != http.StatusOK {
		t.Errorf("config's admin token: %d", got)
	}
	stop()
	addr, stop = startServe(t, c, "--config", cfg, "--listen", "127.0.0.1:0", "--store", "bolt:"+c.path("b.db"), "--admin-token-file", c.path("admin-b"))
	if a, b := status(addr, tokA), status(addr, tokB); a != http.StatusUnauthorized || b != http.StatusOK {
		t.Errorf("flag over config: config's token %d, flag's token %d", a, b)
	}
	stop()

	show := c.must(0, "--config", cfg, "config", "show").stdout
	for _, want := range []string{"admin_token_file", "verdict_ttl", "90s", "products", "SKU-1=Blue cap"} {
		if !strings.Contains(show, want) {
			t.Errorf("config show lacks %q:\n%s", want, show)
		}
	}
	bad := c.write("cfg/bad.toml", `template = "`+demoTemplate+`"
master_key_file = "`+kf+`"
history_retention = "a year"
`, 0o600)
	r := c.must(2, "--config", bad, "serve", "--listen", "127.0.0.1:0", "--store", "bolt:"+c.path("c.db"))
	if !strings.Contains(r.stderr, "history_retention in the config file") {
		t.Errorf("bad duration: %s", r.stderr)
	}
}
