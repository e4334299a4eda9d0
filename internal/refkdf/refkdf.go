// Package refkdf derives the five keys of a tag a second time, from the
// "Key derivation" section of README.md and the standard library alone,
// for tests that need key bytes: a leak scan searches what tagline wrote
// for them, and a keys.Key never hands its bytes out. Being written apart
// from package keys, it also checks that the README describes what keys
// computes. Nothing outside tests imports it.
package refkdf

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
)

// Slots is the number of keys of a tag; slot 1 is the meta-read key.
const Slots = 5

const metaSlot = 1

// Tagline is tagline's own derivation: AN10922(M, UID || "TLK" || slot ||
// V) for every slot but 1, AN10922(M, "TLMETA" || V) for slot 1.
func Tagline(master, uid []byte, version byte) ([Slots][16]byte, error) {
	var out [Slots][16]byte
	b, err := aes.NewCipher(master)
	if err != nil || len(master) != 16 {
		return out, fmt.Errorf("the tagline derivation needs a 16-byte master key, got %d bytes", len(master))
	}
	for n := range out {
		m := append(append([]byte{}, uid...), 'T', 'L', 'K', byte(n), version)
		if n == metaSlot {
			m = []byte{'T', 'L', 'M', 'E', 'T', 'A', version}
		}
		out[n] = an10922(b, m)
	}
	return out, nil
}

// SDMBackend is nfc-developer/sdm-backend's derivation: slot 1 is
// HMAC-SHA256(M, "PICCDataKey")[:16], slot n otherwise
// CMAC(HMAC-SHA256(M, "SlotMasterKey" || n)[:16], 01 ||
// HMAC-SHA256(HMAC-SHA256(M, "DivBaseKey"), UID)[:16]); an all-zero M
// keeps every key at zero.
func SDMBackend(master, uid []byte) ([Slots][16]byte, error) {
	var out [Slots][16]byte
	if allZero(master) {
		return out, nil
	}
	copy(out[metaSlot][:], mac(master, []byte("PICCDataKey")))
	div := mac(mac(master, []byte("DivBaseKey")), uid)[:16]
	for n := range out {
		if n == metaSlot {
			continue
		}
		b, err := aes.NewCipher(mac(master, []byte{'S', 'l', 'o', 't', 'M', 'a', 's', 't', 'e', 'r', 'K', 'e', 'y', byte(n)})[:16])
		if err != nil {
			return out, err
		}
		out[n] = cmac(b, append([]byte{0x01}, div...))
	}
	return out, nil
}

func mac(key, msg []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write(msg)
	return h.Sum(nil)
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// subkeys are K1 and K2 of RFC 4493 section 2.3: L = AES(K, 0) doubled
// once and twice in GF(2^128).
func subkeys(b cipher.Block) (k1, k2 [16]byte) {
	var l [16]byte
	b.Encrypt(l[:], l[:])
	k1 = double(l)
	return k1, double(k1)
}

func double(in [16]byte) [16]byte {
	var out [16]byte
	for i := range 15 {
		out[i] = in[i]<<1 | in[i+1]>>7
	}
	out[15] = in[15] << 1
	if in[0]&0x80 != 0 {
		out[15] ^= 0x87
	}
	return out
}

// cbcMAC pads d with 80 00.. to whole blocks (unless it already is and
// full is set), XORs the last block with K1 when it was whole, K2 when
// padded, and returns the last block of AES-CBC with a zero IV.
func cbcMAC(b cipher.Block, d []byte, blocks int) [16]byte {
	k1, k2 := subkeys(b)
	buf := make([]byte, 16*blocks)
	copy(buf, d)
	last := k1
	if len(d) < len(buf) {
		buf[len(d)] = 0x80
		last = k2
	}
	for i := range 16 {
		buf[len(buf)-16+i] ^= last[i]
	}
	var x [16]byte
	for i := 0; i < len(buf); i += 16 {
		for j := range 16 {
			x[j] ^= buf[i+j]
		}
		b.Encrypt(x[:], x[:])
	}
	return x
}

// cmac is AES-CMAC (RFC 4493) of a non-empty message.
func cmac(b cipher.Block, msg []byte) [16]byte {
	return cbcMAC(b, msg, (len(msg)+15)/16)
}

// an10922 is NXP AN10922 section 2.2: D = 01 || m always padded to two
// blocks, which differs from CMAC when D is shorter than 17 bytes.
func an10922(b cipher.Block, m []byte) [16]byte {
	return cbcMAC(b, append([]byte{0x01}, m...), 2)
}
