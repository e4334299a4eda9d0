package qa_test

import (
	"crypto/sha256"
	"fmt"
	"math"
	"math/big"
	"slices"
	"testing"

	"github.com/tagline-station/tagline/manifest"
	"github.com/tagline-station/tagline/qa"
)

// exactZeroFailure reports whether C(m-d, n) / C(m, n) ≤ 1-c, in integer
// arithmetic: C(m-d, n) · den ≤ C(m, n) · (den - num) for c = num/den.
func exactZeroFailure(m, d, n int64, num, den int64) bool {
	a := new(big.Int).Binomial(m-d, n)
	if n > m-d {
		a.SetInt64(0)
	}
	b := new(big.Int).Binomial(m, n)
	a.Mul(a, big.NewInt(den))
	b.Mul(b, big.NewInt(den-num))
	return a.Cmp(b) <= 0
}

// bruteSampleSize is the least n with exactZeroFailure, found by scanning.
func bruteSampleSize(m, d, num, den int64) int {
	for n := int64(1); n <= m; n++ {
		if exactZeroFailure(m, d, n, num, den) {
			return int(n)
		}
	}
	return int(m)
}

func TestSampleSizeAgainstExactBinomials(t *testing.T) {
	cases := []struct {
		m        int
		p        float64
		num, den int64 // confidence as a fraction
		d        int64 // ceil(p·m), by hand
	}{
		{10000, 0.01, 95, 100, 100},
		{10000, 0.01, 99, 100, 100},
		{1000, 0.02, 95, 100, 20},
		{500, 0.05, 90, 100, 25},
		{100, 0.1, 99, 100, 10},
		{50, 0.03, 95, 100, 2}, // 1.5 defective rounds up
		{7, 0.5, 9, 10, 4},
		{1, 0.5, 95, 100, 1},
	}
	for _, tc := range cases {
		c := float64(tc.num) / float64(tc.den)
		t.Run(fmt.Sprintf("M=%d,p=%v,c=%v", tc.m, tc.p, c), func(t *testing.T) {
			if got := qa.DefectThreshold(tc.m, tc.p); got != int(tc.d) {
				t.Fatalf("threshold %d, want %d", got, tc.d)
			}
			want := bruteSampleSize(int64(tc.m), tc.d, tc.num, tc.den)
			got, err := qa.SampleSize(tc.m, tc.p, c)
			if err != nil || got != want {
				t.Fatalf("SampleSize = %d (%v), exact %d", got, err, want)
			}
			// Turned around: n passing tags prove "fewer than d".
			if md, _ := qa.MaxDefective(tc.m, got, c); md > int(tc.d) {
				t.Fatalf("MaxDefective(%d) = %d > %d", got, md, tc.d)
			}
			if got > 1 {
				if md, _ := qa.MaxDefective(tc.m, got-1, c); md <= int(tc.d) {
					t.Fatalf("n-1 = %d already proves fewer than %d", got-1, md)
				}
			}
		})
	}
}

func TestSampleSizeKnownValue(t *testing.T) {
	// M = 10000, p = 1%, c = 95%: the exact hypergeometric answer is 294
	// (P0 = 0.04983; at 293 it is 0.05035), the binomial 299 and the rule
	// of three 300.
	n, err := qa.SampleSize(10000, 0.01, 0.95)
	if err != nil || n != 294 {
		t.Fatalf("SampleSize = %d, %v", n, err)
	}
	if !exactZeroFailure(10000, 100, 294, 95, 100) || exactZeroFailure(10000, 100, 293, 95, 100) {
		t.Fatal("brute force disagrees at the boundary")
	}
	if p := qa.ZeroFailureProb(10000, 100, 294); math.Abs(p-0.0498279) > 1e-6 {
		t.Fatalf("P0 = %v", p)
	}
	bn, _ := qa.BinomialSampleSize(0.01, 0.95)
	if bn != 299 || bn < n || 300 < bn {
		t.Fatalf("binomial %d", bn)
	}
	if md, _ := qa.MaxDefective(10000, 294, 0.95); md != 100 {
		t.Fatalf("MaxDefective = %d", md)
	}
}

func TestMaxDefectiveAgainstBruteForce(t *testing.T) {
	for _, m := range []int64{1, 2, 10, 37, 200} {
		for _, n := range []int64{1, 2, 5, 19, 36, 199, 200} {
			if n > m {
				continue
			}
			want := int64(-1)
			for d := int64(1); d <= m; d++ {
				if exactZeroFailure(m, d, n, 95, 100) {
					want = d
					break
				}
			}
			got, err := qa.MaxDefective(int(m), int(n), 0.95)
			if err != nil || int64(got) != want {
				t.Fatalf("MaxDefective(%d, %d) = %d %v, want %d", m, n, got, err, want)
			}
		}
	}
	if d, _ := qa.MaxDefective(50, 50, 0.99); d != 1 {
		t.Fatalf("full inspection proves fewer than %d", d)
	}
	if d, _ := qa.MaxDefective(50, 0, 0.99); d != 51 {
		t.Fatalf("no sample proves fewer than %d", d)
	}
}

func TestSamplingParameterErrors(t *testing.T) {
	for _, f := range []func() error{
		func() error { _, err := qa.SampleSize(0, 0.01, 0.95); return err },
		func() error { _, err := qa.SampleSize(10, 0, 0.95); return err },
		func() error { _, err := qa.SampleSize(10, 0.01, 1); return err },
		func() error { _, err := qa.SampleSize(10, math.NaN(), 0.95); return err },
		func() error { _, err := qa.MaxDefective(10, 11, 0.95); return err },
		func() error { _, err := qa.BinomialSampleSize(0.01, 0); return err },
	} {
		if err := f(); !isErr(err, qa.ErrSampling) {
			t.Fatalf("got %v", err)
		}
	}
}

func TestSelectSampleIsDeterministic(t *testing.T) {
	var uids []manifest.UID
	for i := range 1000 {
		uids = append(uids, manifest.UID(fmt.Sprintf("04%012X", i*7919)))
	}
	a := qa.SelectSample(uids, 50, 1)
	if len(a) != 50 {
		t.Fatalf("%d", len(a))
	}
	// Independent of the list's order and of duplicates.
	rev := slices.Clone(uids)
	slices.Reverse(rev)
	rev = append(rev, uids[:100]...)
	if b := qa.SelectSample(rev, 50, 1); !slices.Equal(a, b) {
		t.Fatal("order changed the sample")
	}
	// A prefix of a larger sample with the same seed.
	if b := qa.SelectSample(uids, 80, 1); !slices.Equal(a, b[:50]) {
		t.Fatal("not nested")
	}
	// Another seed, another sample.
	b := qa.SelectSample(uids, 50, 2)
	common := 0
	for _, u := range b {
		if slices.Contains(a, u) {
			common++
		}
	}
	if common > 15 {
		t.Fatalf("seeds 1 and 2 share %d of 50", common)
	}
	// Reproducible from the documented hash alone.
	doc := sha256.Sum256(append([]byte("tagline-qa-sample/1\x00\x00\x00\x00\x00\x00\x00\x01"), a[0]...))
	keyOf := qa.SampleKey(1, a[0])
	if doc != keyOf {
		t.Fatal("SampleKey is not the documented hash")
	}
	for _, u := range uids {
		k := qa.SampleKey(1, manifest.UID(u))
		if string(k[:]) < string(keyOf[:]) {
			t.Fatalf("%s sorts before the first pick", u)
		}
	}
	if got := qa.SelectSample(uids[:3], 10, 1); len(got) != 3 {
		t.Fatalf("%v", got)
	}
}
