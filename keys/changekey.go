package keys

import (
	"crypto/subtle"
	"hash/crc32"
)

// ChangeKeyData is the plaintext of the ChangeKey cryptogram that installs k
// with this version (datasheet NT4H2421Gx section 10.6.1), before the
// session pads and encrypts it. When k replaces the key the session was
// authenticated with (case 2), it is k || version and old is not used; for
// any other key (case 1) it is (k XOR old) || version || CRC32NK(k), so
// that the tag, knowing old, recovers k and checks it.
func (k Key) ChangeKeyData(old Key, version byte, authKey bool) []byte {
	out := make([]byte, BlockSize, BlockSize+5)
	if authKey {
		copy(out, k.b[:])
		return append(out, version)
	}
	subtle.XORBytes(out, k.b[:], old.b[:])
	crc := crc32NK(k.b[:])
	return append(append(out, version), crc[:]...)
}

// OpenChangeKeyData is the tag side of ChangeKeyData: it returns the new
// key and its version, and false when the data has the wrong length for
// its case or, in case 1, when the CRC shows that old is not the key the
// other side XORed with.
func OpenChangeKeyData(old Key, data []byte, authKey bool) (Key, byte, bool) {
	var k Key
	if authKey {
		if len(data) != BlockSize+1 {
			return Key{}, 0, false
		}
		copy(k.b[:], data)
		return k, data[BlockSize], true
	}
	if len(data) != BlockSize+5 {
		return Key{}, 0, false
	}
	subtle.XORBytes(k.b[:], data[:BlockSize], old.b[:])
	crc := crc32NK(k.b[:])
	if subtle.ConstantTimeCompare(crc[:], data[BlockSize+1:]) != 1 {
		return Key{}, 0, false
	}
	return k, data[BlockSize], true
}

// crc32NK is the CRC of the new key in a case-1 ChangeKey: the reflected
// IEEE 802.3 polynomial with init FFFFFFFF and no final XOR (JAMCRC),
// stored LSB first. Go's crc32 applies the final XOR, so undo it.
func crc32NK(b []byte) [4]byte {
	c := ^crc32.ChecksumIEEE(b)
	return [4]byte{byte(c), byte(c >> 8), byte(c >> 16), byte(c >> 24)}
}
