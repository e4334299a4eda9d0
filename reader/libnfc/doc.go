// Package libnfc is tagline's reader stack over libnfc (through
// github.com/clausecker/nfc/v2): PN532 boards on a serial line
// (pn532_uart), ACR122 and other PN53x readers, used as ISO/IEC 14443-A
// initiators. Device implements reader.Reader and Tag implements
// reader.Tag.
//
//	dev, err := libnfc.Open("") // LIBNFC_DEVICE or /etc/nfc/libnfc.conf
//	tag, err := dev.WaitTag(ctx)
//	rapdu, err := tag.Transmit(ctx, capdu)
//	err = dev.WaitRemoved(ctx)
//
// This package needs cgo and libnfc-dev (scripts/setup.sh installs it). In
// builds without cgo, Compiled is false and Open returns an error wrapping
// reader.ErrStackUnavailable that says so; the rest of tagline still builds.
// The tests run against internal/pn532emu, a PN532 emulated on a
// pseudo-terminal, so they need libnfc but no hardware.
//
// # Invariants
//
//   - Every libnfc call on a device is made under the Device's mutex: libnfc
//     is not thread-safe. Tag methods, WaitTag, WaitRemoved, Info and Close
//     may be called from any goroutine.
//   - libnfc has no event API, so WaitTag and WaitRemoved poll, every
//     Options.PollInterval (100 ms by default), and check ctx between polls.
//     A poll is one selection (InListPassiveTarget with a few retries, not
//     libnfc's default infinite select) or one presence check (on a PN532,
//     an R(NAK) block the tag must answer).
//   - libnfc reads LIBNFC_DEVICE, LIBNFC_LOG_LEVEL and its configuration once
//     per process, when the first device is opened (nfc_init); later changes
//     to the environment have no effect. Pass a connstring to Open to choose a
//     device explicitly.
//   - A Tag belongs to one selection. After the tag has been seen leaving, or
//     another WaitTag has selected again, its Transmit returns an error
//     wrapping reader.ErrTagRemoved. WaitTag with a previous tag still
//     selected cycles the RF field first, so that the same tag can be found
//     again (a tag in the ISO 14443-4 ACTIVE state ignores a new
//     anticollision).
//   - Transmit never returns a partial response. libnfc's timeout, RF
//     transmission error (the PN53x's timeout status), target released and
//     I/O error (the reader went away) become errors wrapping
//     reader.ErrTagRemoved; whether the tag executed the command is unknown.
//   - Transmit bounds each exchange by Options.TransmitTimeout or, by
//     default, by the frame wait time in the ATS (250 ms + 8 × FWT, between
//     500 ms and 5 s) and by ctx's deadline. When ctx ends first, Transmit
//     returns ctx.Err() at once; the exchange in flight completes in the
//     background within that bound and holds the device until then.
//     nfc_abort_command is not used: libnfc's pn532_uart driver reports an
//     aborted reply as an empty success, which is worse than waiting.
//   - Tag.Close does not touch the RF field or the tag; Device.Close releases
//     the target, switches the field off and closes the port.
//   - No key material passes through this package other than inside the
//     APDUs it carries.
package libnfc
