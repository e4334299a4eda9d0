// Package pn532emu emulates a PN532 NFC controller on its HSU (serial) link,
// on a pseudo-terminal, so that libnfc's pn532_uart driver, and with it
// reader/libnfc, can be run against a simulated tag without hardware:
//
//	emu, err := pn532emu.Start(pn532emu.Options{})
//	defer emu.Close()
//	emu.SetTag(tag) // any reader.Emulated, e.g. reader/sim's NTAG 424 DNA
//	dev, err := libnfc.Open(emu.Connstring()) // "pn532_uart:/dev/pts/N"
//
// The package is pure Go (no cgo) and Linux-only (/dev/ptmx). It is under
// internal/ because only tests use it (reader/libnfc, internal/readerpaths).
//
// # Protocol
//
// Frames are 00 00 FF LEN LCS TFI data DCS 00, extended when TFI + data
// exceed 255 bytes (LEN = FF FF LENM LENL LCS). The emulator resynchronises
// on the start code 00 FF, so libnfc's wake-up preamble (55 55 00 00 00) and
// line noise are skipped; frames with a bad LCS or DCS are dropped without an
// ACK (the host times out waiting for it) and logged. Every command frame is
// acknowledged with 00 00 FF 00 FF 00 before its answer. An ACK from the host
// aborts a command that is still waiting (a listing with infinite retries,
// InAutoPoll); a NACK makes the emulator resend its last answer. Unknown
// commands are acknowledged and answered with the error frame
// 00 00 FF 01 FF 7F 81 00, and recorded (Unknown) and logged (Options.Logf).
//
// Commands: Diagnose (tests 00 echo, 01, 02, 04, 06 presence, 07),
// GetFirmwareVersion (PN532 v1.6, 32 01 06 07), GetGeneralStatus,
// ReadRegister/WriteRegister (a register map, one byte per register),
// ReadGPIO, WriteGPIO, SetSerialBaudRate, SetParameters, SAMConfiguration,
// PowerDown, RFConfiguration (field on/off, retry counts; the rest accepted),
// InListPassiveTarget and InAutoPoll (106 kbit/s type A only; other
// modulations find nothing), InDataExchange, InCommunicateThru, InDeselect,
// InSelect, InRelease, and InJumpForDEP/InJumpForPSL/InATR/InPSL (no DEP
// target: status 01). That covers everything libnfc 1.8.0 sends when it
// opens the device, lists, selects, exchanges APDUs, checks presence and
// closes, and everything nfc-list sends.
//
// # The emulated tag
//
// A listing finds the tag set with SetTag and reports Tg 01, ATQA 03 44 (the
// PN532 gives SENS_RES most significant byte first), SAK 20, the UID and,
// because the PN532 does the RATS itself, the ATS including TL; a tag
// implementing Anticollision reports its own ATQA and SAK. Tags implementing
// Resetter are reset on activation and when the field goes off; tags
// implementing Departer may leave the field by themselves. InDataExchange
// D4 40 01 <C-APDU> calls reader.Emulated.Process and answers D5 41 00
// <R-APDU>. Long C-APDUs may arrive in one extended frame or chained by the
// host (MI bit 0x40 in the target byte, each part answered with status 00);
// R-APDUs longer than Options.MaxExchangeData (262, as a PN532) are returned
// in parts with the MI bit set in the status, the host fetching the rest with
// D4 40 01. libnfc 1.8.0 handles both.
//
// # Invariants
//
//   - SetTag and RemoveTag may be called at any time from any goroutine; each
//     is a new arrival or departure. A tag that arrived after the last listing
//     is not activated: exchanges with it time out until the host lists it
//     again (or InSelects the same UID), as with a real tag.
//   - With no activated tag in the field, InDataExchange, the presence check
//     (Diagnose 06) and libnfc's R(NAK) ping (InCommunicateThru B2) answer
//     status 01 (timeout), which libnfc reports as NFC_ERFTRANS or
//     NFC_ETGRELEASED. Only with a tag in the field but no target listed
//     (or after InRelease) do they answer status 27 (not acceptable).
//   - Raw frames other than the R and S blocks of the activated ISO 14443-4
//     tag time out, so that libnfc's probes for type B', SRx and CTx tags find
//     no phantom targets.
//   - Listing with MxRtyPassiveActivation FF (libnfc's default after
//     nfc_initiator_init) blocks until a tag arrives or the host aborts, as a
//     PN532 does; other retry counts answer "no target" at once.
//   - The fault hooks count APDU exchanges from the moment they are armed:
//     RemoveAfter(k) lets exchange k complete and then removes the tag;
//     RemoveDuring(k) lets exchange k reach the tag (Process runs) and loses
//     its answer. SetTag and RemoveTag disarm them. A tag whose Process
//     returns nothing (reader/sim's tag after its own removal fault) has left
//     the field too: the exchange times out and the emulator removes it.
//   - The emulator keeps its own descriptor of the pty slave open, so reads
//     on the master never fail when libnfc closes and reopens the port. The
//     slave starts in raw mode; libnfc's termios (raw too, plus its private
//     "claimed" flag in c_iflag) does not change what the emulator sees.
//
// Not emulated: target mode (TgInitAsTarget and friends), FeliCa, type B,
// Jewel and DEP targets, RF timing, the ISO 14443-4 block protocol beyond
// the single R(ACK) and S(DESELECT) answers, and SetParameters'
// fRemovePrePostAmble. Tags listed without RATS (SetParameters bit 4 clear)
// report no ATS but still exchange APDUs through Process.
package pn532emu
