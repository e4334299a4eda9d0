// Package sim is the software reader with simulated NTAG 424 DNA tags.
//
// Tag is the tag side: a model of one NT4H2421Gx (datasheet Rev. 3.0) with
// its NDEF application, three StandardData files, five AES application
// keys, EV2 secure messaging, Secure Dynamic Messaging (SUN) and the
// failed-authentication counters. It implements reader.Emulated, so the same
// simulated tag can sit behind this package's Reader, behind pcscd through
// reader/vpcd, or behind libnfc through internal/pn532emu. Every cryptographic
// step is delegated to the packages the encoder itself uses (keys, ev2, sdm),
// and those are proven against the published NXP vectors; the tests here
// drive the simulated tag with the same vectors, so the tag reproduces the
// AN12196 and AN12343 transcripts byte for byte when it is given their random
// numbers.
//
// Reader is a reader.Reader with one slot: Present puts a Tag into the
// field, Remove takes it out, WaitTag and WaitRemoved block on channels.
// Recording and replaying transcripts lives in internal/transcript (only
// tests use it).
//
// # Invariants
//
//   - State changes only on successful commands. A command answered with an
//     error status word leaves keys, file data, file settings and counters as
//     they were; the only state an error changes is volatile: it ends the
//     authenticated session (datasheet 9.1.9: "any other error during the
//     command execution has the same consequences"), a failed
//     authentication is counted and a 91AD answer spends one unit of the
//     authentication delay.
//   - Keys never leave the tag as bytes. The only accessors that return key
//     material are Key and IsPersonalisedWith, which exist for tests and
//     return keys.Key (which prints as a check value) or a boolean computed
//     in constant time. Snapshot carries check values only.
//   - Randomness comes only from Options.Rand, drawn in a documented order:
//     RndB (16 bytes) in part 1 of an authentication, TI (4 bytes) in part 2
//     of AuthenticateEV2First, and the random padding of encrypted PICCData
//     (5 bytes with a 7-byte UID and both mirrors) on the first read of a
//     read sequence (13 bytes in LRP mode: PICCRand, then the padding).
//     Nothing else draws, so a transcript is reproducible.
//   - Process never panics and always answers: an unknown or malformed
//     command gets an error status word. The one exception is a tag that has
//     left the field (fault hooks, Reader.Remove): Process then returns nil,
//     which no real tag can answer, and the card side of Reader turns it into
//     reader.ErrTagRemoved.
//   - A Tag is safe for concurrent use; commands are processed one at a time
//     in arrival order.
//
// # Fault hooks
//
// RemoveAfter and RemoveDuring take the tag out of the field before or
// after a command runs; CorruptResponse flips a byte of one answer. The
// hostile-card hooks run the command as usual and then change what the
// reader receives: Tamper rewrites one answer, or with n = 0 every answer
// for the life of the tag, with a Fault (Replace for garbage, Truncate and
// Extend for too short and too long answers, WithStatus for a wrong status
// word, FlipLastData for a bad response MAC, Type2Tag and OtherISOCard for
// cards that are not an NTAG 424 DNA); Stall withholds one answer for a
// while, and the card side of Reader gives up when the caller's context
// ends; ChangeUID makes the tag another UID from one exchange on. A Fault
// never makes Process return nil: an empty rewrite is an empty answer,
// which is not a departure.
//
// # Modelling choices
//
// SDMReadCtr follows datasheet 9.3.1 literally: in not-authenticated state
// the counter is incremented before the answer of the first successful read
// command (ReadData or ISOReadBinary) of the SDM file; consecutive reads of
// the same file with the same command type reuse the value (and the PICCData
// random padding, 9.3.4), so a reader fetching the NDEF file in chunks sees
// one consistent URL. Any other command in between (including an
// ISOSelectFile, or switching between ReadData and ISOReadBinary) ends the
// sequence, and the next read increments again. Reads in authenticated state
// neither increment nor mirror. Enabling SDM with ChangeFileSettings resets
// the counter to zero.
//
// Failed authentications (9 and AN12196 "failed authentication counter"):
// each key has TotFailCtr and SeqFailCtr. A wrong cryptogram in part 2
// increments both; a successful authentication clears SeqFailCtr and
// subtracts TotFailCtrDecr (10) from TotFailCtr. When SeqFailCtr reaches
// Options.AuthDelayAfter, the next Options.AuthDelayResponses authentication
// attempts with that key are answered 91AD (the datasheet's delay is spent by
// the tag answering 91AD; here each 91AD answer spends one unit of it).
// Every further failure re-arms the delay. When TotFailCtr reaches
// TotFailCtrLimit (1000) the key is locked for good: part 1 answers 919D. A
// ChangeKey of a locked key (authenticated with key 0) resets its counters;
// a locked key 0 cannot be recovered.
//
// Access rights (8.2.3.3): a command is granted through a right that names
// the authenticated key, and then uses the file's communication mode, or
// through a free (E) right, and then runs in CommMode.Plain (still counting
// CmdCtr when authenticated). Otherwise the tag answers 919D when every
// relevant right is F and 91AE (AUTHENTICATION_ERROR) when one of them names
// a key, as tables 80 and 83 of the datasheet specify. ISOReadBinary and
// ISOUpdateBinary work only through free access and not at all in
// authenticated state (table 89: "AuthenticatedEV2 not allowed"); they answer
// 6982.
//
// The application must be selected (ISOSelectFile by DF name D2760000850101
// or by FID E110) before the application-level commands; at PICC level they
// answer 919D, as table 71 and its siblings specify. A new tag is at PICC
// level, as after activation. Selecting a DF ends the authenticated session;
// selecting an EF does not.
//
// Timing (Options.Timing, off by default) sleeps in Process for the air time
// of both APDUs and for the EEPROM cycles of the command: one cycle per
// started 32 bytes written by WriteData or ISOUpdateBinary, one for
// ChangeKey, ChangeFileSettings, an SDMReadCtr increment, and a change of the
// failed-authentication counters.
//
// A command APDU longer than 125 bytes does not fit one ISO/IEC 14443-4
// frame of the 128 bytes that the ATS announces (FSCI 7) after PCB and CRC,
// so a real reader chains it. The tag accepts it and counts it in
// ChainedWrites: chained writes are not tear-protected (10.8.2) and the
// encoder is meant to avoid them.
//
// LRP mode (lrp.go): SetConfiguration option 05 switches the tag for good
// (other SetConfiguration options are not modelled); then only
// AuthenticateLRPFirst is accepted, secure messaging is LRP's, and SUN
// messages are LRP's, their 24-byte PICCData drawing 13 random bytes
// (8 of PICCRand, then the padding) where AES mode draws 5.
// AuthenticateLRPNonFirst is not modelled (answered 919D).
//
// Random ID (randomid.go): SetConfiguration option 00 with UseRID turns it
// on for good under a key-0 session; from then on each activation answers
// anticollision with a new 08xxxxxx UID (from crypto/rand, never Rand),
// GetVersion names no UID, and GetCardUID, Read_Sig and the SUN message
// keep the real one (RealUID).
//
// TagTamper (tamper.go): Options.TagTamper makes an NTAG 424 DNA TT whose
// loop tests open and close; its status is written over TTStatusOffset
// before the tag encrypts and MACs what it mirrors. A tag without it
// refuses SDMOptions bit 3 (919E), as an NTAG 424 DNA does.
//
// Read_Sig (originality.go) answers an ECDSA secp224r1 signature of the
// UID as a real tag does (plain, or CommMode.Full in a session), but made
// with a test key of ours (OriginalityTestKey), never NXP's: a station
// trusts that key only for tags of the simulated reader.
// SetOriginalitySignature makes a tag answer another signature.
//
// Not modelled: Random ID, response chaining for ReadData answers
// above 256 bytes (the sim returns them whole), torn chained writes (an
// exchange is executed completely or not at all), SDM session vectors that
// omit the UID or the counter when they are not mirrored (sdm.MAC always
// includes both; see the package report), and the TagTamper features.
package sim
