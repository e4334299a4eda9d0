package ev2

import "hash/crc32"

// CRC32NK is the CRC of the new key in a case-1 ChangeKey (datasheet
// 10.6.1): the reflected IEEE 802.3 polynomial with init FFFFFFFF and no
// final XOR (JAMCRC), stored LSB first. Go's crc32 applies the final XOR,
// so undo it.
func CRC32NK(b []byte) [4]byte {
	c := ^crc32.ChecksumIEEE(b)
	return [4]byte{byte(c), byte(c >> 8), byte(c >> 16), byte(c >> 24)}
}
