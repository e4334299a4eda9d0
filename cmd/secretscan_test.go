package cmd

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
)

// capture is one thing tagline wrote: a stream, a file, an HTTP body.
type capture struct {
	name string
	data []byte
}

// secretKey is a key that must never leave the process.
type secretKey struct {
	name string
	b    []byte
}

// needle is one way a key could be written out.
type needle struct {
	secret, encoding string
	b                []byte
}

// keyNeedles lists the forms in which a key could leak: raw bytes, hex in
// both cases (also spaced, as %X and % x print), Go's and JSON's
// decimal arrays, and base64 in the standard and URL alphabets, padded
// and not. Base64 depends on where the key starts in a longer encoded
// blob, so for each of the three alignments the characters that only
// depend on the key are needles too.
func keyNeedles(keys []secretKey) []needle {
	var out []needle
	for _, k := range keys {
		add := func(enc, s string) { out = append(out, needle{k.name, enc, []byte(s)}) }
		out = append(out, needle{k.name, "raw bytes", k.b})
		h := hex.EncodeToString(k.b)
		add("hex", h)
		add("HEX", strings.ToUpper(h))
		add("spaced hex", fmt.Sprintf("% x", k.b))
		add("spaced HEX", fmt.Sprintf("% X", k.b))
		add("decimal array", fmt.Sprint(k.b))
		js, _ := json.Marshal(bytesAsNumbers(k.b))
		add("json array", string(js))
		for _, e := range []struct {
			name string
			enc  *base64.Encoding
		}{
			{"base64", base64.StdEncoding},
			{"base64 unpadded", base64.RawStdEncoding},
			{"base64url", base64.URLEncoding},
			{"base64url unpadded", base64.RawURLEncoding},
		} {
			add(e.name, e.enc.EncodeToString(k.b))
		}
		for _, e := range []struct {
			name string
			enc  *base64.Encoding
		}{{"base64", base64.RawStdEncoding}, {"base64url", base64.RawURLEncoding}} {
			for off := range 3 {
				add(fmt.Sprintf("%s at offset %d mod 3", e.name, off), base64Core(e.enc, k.b, off))
			}
		}
	}
	return out
}

// bytesAsNumbers makes json.Marshal write an array of numbers, as it does
// for a [16]byte, rather than base64.
func bytesAsNumbers(b []byte) []int {
	out := make([]int, len(b))
	for i, c := range b {
		out[i] = int(c)
	}
	return out
}

// base64Core is the part of the base64 text of key, starting off bytes
// into a 3-byte group, that does not depend on the bytes around it: the
// groups made only of key bytes.
func base64Core(enc *base64.Encoding, key []byte, off int) string {
	skip := (3 - off) % 3 // key bytes in the first, shared group
	whole := (len(key) - skip) / 3 * 3
	return enc.EncodeToString(key[skip : skip+whole])
}

// findSecrets reports every needle found in every capture. Needles are
// at least 16 bytes, so one pass over each capture looks up the 8 bytes
// at every position among the needles' first 8 bytes.
func findSecrets(caps []capture, needles []needle) []string {
	byPrefix := map[uint64][]needle{}
	for _, n := range needles {
		if len(n.b) < 8 {
			panic("needle shorter than 8 bytes: " + n.encoding)
		}
		p := binary.LittleEndian.Uint64(n.b)
		byPrefix[p] = append(byPrefix[p], n)
	}
	var hits []string
	for _, c := range caps {
		found := map[string]bool{}
		for i := 0; i+8 <= len(c.data); i++ {
			for _, n := range byPrefix[binary.LittleEndian.Uint64(c.data[i:])] {
				key := n.secret + "\x00" + n.encoding
				if !found[key] && bytes.HasPrefix(c.data[i:], n.b) {
					found[key] = true
					hits = append(hits, fmt.Sprintf("%s holds %s as %s at byte %d", c.name, n.secret, n.encoding, i))
				}
			}
		}
	}
	return hits
}
