package vectors

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/tagline-station/tagline/keys"
)

// Vector is one entry of ntag424_vectors.json.
type Vector struct {
	Name      string            `json:"name"`
	Algorithm string            `json:"algorithm"`
	Verified  bool              `json:"verified"`
	Inputs    map[string]any    `json:"inputs"`
	Expected  map[string]string `json:"expected"`
	Note      string            `json:"note"`
	Source    json.RawMessage   `json:"source"`
	group     string
}

// Group is the vector's group in the file (cmac, an10922, ev2_auth, ...).
func (v Vector) Group() string { return v.group }

// In returns a hex input as bytes; it fails the test when it is missing.
func (v Vector) In(t testing.TB, name string) []byte {
	t.Helper()
	s, ok := v.Inputs[name].(string)
	if !ok {
		t.Fatalf("vector %s: no input %q", v.Name, name)
	}
	return mustHex(t, v.Name, name, s)
}

// HasIn reports whether an input exists.
func (v Vector) HasIn(name string) bool { _, ok := v.Inputs[name]; return ok }

// Bool returns a boolean input (false when absent).
func (v Vector) Bool(name string) bool { b, _ := v.Inputs[name].(bool); return b }

// Out returns an expected hex value as bytes.
func (v Vector) Out(t testing.TB, name string) []byte {
	t.Helper()
	s, ok := v.Expected[name]
	if !ok {
		t.Fatalf("vector %s: no expected %q", v.Name, name)
	}
	return mustHex(t, v.Name, name, s)
}

// OutString returns an expected value as text.
func (v Vector) OutString(t testing.TB, name string) string {
	t.Helper()
	s, ok := v.Expected[name]
	if !ok {
		t.Fatalf("vector %s: no expected %q", v.Name, name)
	}
	return s
}

// HasOut reports whether an expected value exists.
func (v Vector) HasOut(name string) bool { _, ok := v.Expected[name]; return ok }

func mustHex(t testing.TB, vec, field, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("vector %s: %s is not hex: %v", vec, field, err)
	}
	return b
}

type file struct {
	Groups map[string][]Vector `json:"groups"`
}

// KDFCase is one case of sdm_backend_kdf.json.
type KDFCase struct {
	MasterKey   string            `json:"master_key"`
	UID         string            `json:"uid"`
	MetaReadKey string            `json:"meta_read_key"`
	TagKeys     map[string]string `json:"tag_keys"`
}

var (
	once    sync.Once
	all     []Vector
	kdf     []KDFCase
	loadErr error
)

// Dir is testdata/vectors at the module root, found from this source file
// so that tests in any package (and any working directory) find it.
func Dir() string {
	_, f, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(f), "..", "..", "testdata", "vectors")
}

func load() {
	// Every *_vectors.json holds vectors in one format: a new document's
	// vectors go in a file of their own (lrp_vectors.json for AN12304).
	files, err := filepath.Glob(filepath.Join(Dir(), "*_vectors.json"))
	if err != nil || len(files) == 0 {
		loadErr = fmt.Errorf("no vector files in %s", Dir())
		return
	}
	for _, name := range files {
		if loadErr = loadFile(name); loadErr != nil {
			return
		}
	}
	b, err := os.ReadFile(filepath.Join(Dir(), "sdm_backend_kdf.json"))
	if err != nil {
		loadErr = err
		return
	}
	var k struct {
		Cases []KDFCase `json:"cases"`
	}
	loadErr = json.Unmarshal(b, &k)
	kdf = k.Cases
}

func loadFile(name string) error {
	b, err := os.ReadFile(name)
	if err != nil {
		return err
	}
	var f file
	if err := json.Unmarshal(b, &f); err != nil {
		return fmt.Errorf("%s: %w", filepath.Base(name), err)
	}
	for g, vs := range f.Groups {
		for _, v := range vs {
			v.group = g
			all = append(all, v)
		}
	}
	return nil
}

// loaded loads the vector files once, failing the test when they do not
// load.
func loaded(t testing.TB) {
	t.Helper()
	once.Do(load)
	if loadErr != nil {
		t.Fatalf("loading vectors: %v", loadErr)
	}
}

// All returns every vector of the *_vectors.json files.
func All(t testing.TB) []Vector {
	t.Helper()
	loaded(t)
	return all
}

// ByAlgorithm returns the vectors of one algorithm.
func ByAlgorithm(t testing.TB, alg string) []Vector {
	t.Helper()
	var out []Vector
	for _, v := range All(t) {
		if v.Algorithm == alg {
			out = append(out, v)
		}
	}
	if len(out) == 0 {
		t.Fatalf("no vectors for algorithm %s", alg)
	}
	return out
}

// Named returns one vector by name.
func Named(t testing.TB, name string) Vector {
	t.Helper()
	for _, v := range All(t) {
		if v.Name == name {
			return v
		}
	}
	t.Fatalf("no vector named %s", name)
	return Vector{}
}

// SDMBackendKDF returns the cases of sdm_backend_kdf.json.
func SDMBackendKDF(t testing.TB) []KDFCase {
	t.Helper()
	loaded(t)
	return kdf
}

// Upper formats bytes as the vectors do.
func Upper(b []byte) string { return strings.ToUpper(hex.EncodeToString(b)) }

// Check compares got with an expected hex field and reports a mismatch.
func Check(t testing.TB, v Vector, field string, got []byte) {
	t.Helper()
	want := v.Out(t, field)
	if Upper(got) != Upper(want) {
		t.Errorf("vector %s: %s = %s, want %s", v.Name, field, Upper(got), Upper(want))
	}
}

// Errorf is a convenience for formatting vector failures.
func Errorf(t testing.TB, v Vector, format string, args ...any) {
	t.Helper()
	t.Errorf("vector %s: %s", v.Name, fmt.Sprintf(format, args...))
}

// Key makes a keys.Key of published key bytes.
func Key(t testing.TB, b []byte) keys.Key {
	t.Helper()
	k, err := keys.NewKey(b)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
