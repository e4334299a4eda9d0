package qa

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/tagline-station/tagline/internal/errkind"
	"github.com/tagline-station/tagline/manifest"
)

// ErrSampling is wrapped by every error about sampling parameters.
var ErrSampling = errkind.New(errkind.Usage, "bad sampling parameters")

// ZeroFailureProb is the probability that n tags drawn at random without
// replacement from a batch of m, d of which are defective, contain no
// defective tag (the hypergeometric probability of zero successes):
//
//	P0(m, d, n) = C(m-d, n) / C(m, n) = Π_{i=0}^{n-1} (m-d-i) / (m-i)
//
// It is 1 when d or n is 0 and 0 when n > m-d.
func ZeroFailureProb(m, d, n int) float64 {
	if d <= 0 || n <= 0 {
		return 1
	}
	if d > m {
		d = m
	}
	if n > m-d {
		return 0
	}
	p := 1.0
	for i := 0; i < n; i++ {
		p *= float64(m-d-i) / float64(m-i)
	}
	return p
}

// DefectThreshold is the smallest number of defective tags in a batch of m
// for which the defective fraction is not below p: ceil(p·m), at least 1.
// "The defective fraction is below p" is the same claim as "fewer than
// DefectThreshold(m, p) tags are defective".
func DefectThreshold(m int, p float64) int {
	x := p * float64(m)
	d := int(math.Ceil(x))
	// p·m computed in floating point may land just above an integer that
	// it equals exactly (0.07·100 = 7.000000000000001).
	if r := math.Round(x); math.Abs(x-r) <= 1e-9*math.Max(1, x) {
		d = int(r)
	}
	return max(d, 1)
}

func checkBatchSize(m int) error {
	if m <= 0 {
		return fmt.Errorf("%w: batch size %d; a batch to sample needs at least one tag", ErrSampling, m)
	}
	return nil
}

func checkConfidence(c float64) error {
	if !(c > 0 && c < 1) {
		return fmt.Errorf("%w: confidence %v must be between 0 and 1 (e.g. 0.95)", ErrSampling, c)
	}
	return nil
}

func checkDefectRate(p float64) error {
	if !(p > 0 && p < 1) {
		return fmt.Errorf("%w: defect rate %v must be between 0 and 1 (e.g. 0.01 for 1%%)", ErrSampling, p)
	}
	return nil
}

// SampleSize is the exact zero-failure sample size: the smallest n such
// that, if at least DefectThreshold(m, p) of the m tags were defective, n
// tags drawn at random would all pass with probability at most 1-c:
//
//	n = min { n : P0(m, ceil(p·m), n) ≤ 1 - c }
//
// So when n random tags of the batch all pass, the batch's defective
// fraction is below p with confidence c. The result is at most m (at
// m-d+1 the probability is 0); for large m it approaches the binomial
// ln(1-c)/ln(1-p) from below and the "rule of three" 3/p for c = 95%.
func SampleSize(m int, p, c float64) (int, error) {
	if err := checkBatchSize(m); err != nil {
		return 0, err
	}
	if err := checkDefectRate(p); err != nil {
		return 0, err
	}
	if err := checkConfidence(c); err != nil {
		return 0, err
	}
	d := DefectThreshold(m, p)
	alpha := 1 - c
	prob := 1.0
	for n := 1; n <= m; n++ {
		i := n - 1
		if i >= m-d {
			return n, nil
		}
		prob *= float64(m-d-i) / float64(m-i)
		if prob <= alpha {
			return n, nil
		}
	}
	return m, nil
}

// BinomialSampleSize is the approximation that treats draws as independent
// (sampling with replacement from an infinite batch): the smallest n with
// (1-p)^n ≤ 1-c, that is ceil(ln(1-c)/ln(1-p)). It is never smaller than
// SampleSize and is reported beside it for comparison.
func BinomialSampleSize(p, c float64) (int, error) {
	if err := checkDefectRate(p); err != nil {
		return 0, err
	}
	if err := checkConfidence(c); err != nil {
		return 0, err
	}
	n := math.Ceil(math.Log(1-c) / math.Log1p(-p))
	// Guard the boundary against rounding in the logarithms.
	for n > 1 && math.Pow(1-p, n-1) <= 1-c {
		n--
	}
	for math.Pow(1-p, n) > 1-c {
		n++
	}
	return int(n), nil
}

// MaxDefective states what n passing tags prove: the smallest d such that
// a batch of m with d defective tags would have let all n sampled tags pass
// with probability at most 1-c. With zero failures in n random samples,
// fewer than d tags of the batch are defective (a fraction below d/m) with
// confidence c. n = m gives 1 (no tag is defective); n = 0 proves nothing
// and gives m+1.
func MaxDefective(m, n int, c float64) (int, error) {
	if err := checkBatchSize(m); err != nil {
		return 0, err
	}
	if err := checkConfidence(c); err != nil {
		return 0, err
	}
	if n < 0 || n > m {
		return 0, fmt.Errorf("%w: sample of %d from a batch of %d", ErrSampling, n, m)
	}
	if n == 0 {
		return m + 1, nil
	}
	alpha := 1 - c
	// P0 falls as d grows and is 0 at d = m-n+1.
	lo, hi := 1, m-n+1
	for lo < hi {
		mid := lo + (hi-lo)/2
		if ZeroFailureProb(m, mid, n) <= alpha {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo, nil
}

// sampleDomain separates the sample-selection hash from any other use of
// SHA-256 with the same inputs.
const sampleDomain = "tagline-qa-sample/1"

// SampleKey is the sort key that decides whether a UID is sampled:
// SHA-256 of "tagline-qa-sample/1" || seed (8 bytes, big-endian) || the UID
// as upper-case hex text.
func SampleKey(seed uint64, uid manifest.UID) [32]byte {
	h := sha256.New()
	h.Write([]byte(sampleDomain))
	var s [8]byte
	binary.BigEndian.PutUint64(s[:], seed)
	h.Write(s[:])
	h.Write([]byte(uid))
	var k [32]byte
	h.Sum(k[:0])
	return k
}

// SelectSample picks n of the UIDs (upper-case hex, as the journal stores
// them): those with the smallest SampleKey(seed, uid), in that order. The
// choice depends only on the seed and the set of UIDs, never on their
// order or on a random generator's implementation, so anyone can
// reproduce it from a report with sha256sum. Duplicate UIDs count once;
// n larger than the set returns all of it.
func SelectSample(uids []manifest.UID, n int, seed uint64) []manifest.UID {
	type keyed struct {
		k   [32]byte
		uid manifest.UID
	}
	seen := make(map[manifest.UID]bool, len(uids))
	all := make([]keyed, 0, len(uids))
	for _, u := range uids {
		if seen[u] {
			continue
		}
		seen[u] = true
		all = append(all, keyed{SampleKey(seed, u), u})
	}
	slices.SortFunc(all, func(a, b keyed) int {
		if c := bytes.Compare(a.k[:], b.k[:]); c != 0 {
			return c
		}
		return strings.Compare(string(a.uid), string(b.uid))
	})
	n = max(0, min(n, len(all)))
	out := make([]manifest.UID, n)
	for i := range out {
		out[i] = all[i].uid
	}
	return out
}
