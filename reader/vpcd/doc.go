// Package vpcd is the card side of vsmartcard's vpcd protocol: it puts a
// reader.Emulated tag into a "Virtual PCD" reader of pcscd, so that the real
// PC/SC stack (pcscd, libpcsclite, reader/pcsc) talks to a simulated tag.
//
// pcscd's vpcd driver is the TCP server (one port per reader slot, 35963 and
// 35964 with Debian's /etc/reader.conf.d/vpcd); a card is a TCP client. While
// the connection is open the card is in the reader; closing it removes the
// card. Both directions frame messages as a 2-byte big-endian length followed
// by the payload. A 1-byte payload from the driver is a control message
// (power off, power on, reset, get ATR); anything longer is a command APDU
// that the card answers with its response APDU.
//
// Invariants:
//   - The package is pure Go (no cgo) and does not depend on pcscd being
//     installed; it only needs a TCP address.
//   - Emulated.Process is called from one goroutine per Card, one APDU at a
//     time, in the order the driver sent them.
//   - A Card never answers a command after the fault hook RemoveAfter fired or
//     after Remove: the connection is closed first, so the reader sees the
//     tag leave mid-exchange, as with a real tag pulled from the field.
package vpcd
