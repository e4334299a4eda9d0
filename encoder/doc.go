// Package encoder speaks NTAG 424 DNA over a reader.Card: ISO selection,
// EV2 authentication, secure messaging in CommMode.Plain, MAC and Full, the
// file and key commands, and the personalisation flow built from them.
//
// Commands are small methods on Conn, one per datasheet command, with the
// section of NT4H2421Gx Rev. 3.0 they implement beside them.
//
// Invariants:
//   - Every response MAC is verified, in constant time, before any response
//     data is used; a failed check drops the session.
//   - Any error status word drops the session, as the tag does.
//   - No write is larger than one ISO 14443-4 frame, so every write is
//     tear-protected by the tag.
//   - Personalise never tries a key it has no reason to believe the tag
//     holds: key versions and the existing SUN message decide the candidate,
//     and each candidate gets at most one authentication attempt. A 91AD
//     (authentication delay) stops the flow.
//   - Key 0's version is read on every tag, before any authentication (an
//     empty NDEF file with a changed key 0 is not a factory tag), and the
//     versions of keys 1 to 4 on every tag whose NDEF file is not empty. A
//     key 0 at another version is refused untried: as our own tag of that
//     key version when its SUN message verifies with our master key at that
//     version (ErrOtherVersion), else as foreign.
//   - A tag is ours to touch only with proof: a SUN message that verifies
//     with our keys, or the journal (Job.Journal) holding an intent or a
//     binding for its UID. Keys at our version without either proof are
//     another station's (ErrHalfKeyed when key 0 is still factory) or
//     another system's (ErrForeignTag), refused before authenticating when
//     the UID is known and always before the first write. Our template's
//     URL that does not verify means another master key (ErrWrongKey), also
//     untried.
//   - The journal hook runs, and must succeed, before the first write to a
//     tag; key 0 is changed last, so a tag torn at any point can be finished
//     by presenting it again, at the station whose journal holds its intent.
//   - Every exchange is bounded: Options.ExchangeTimeout (2 s by default)
//     ends one the card does not answer with ErrTimeout, an answer longer
//     than a short APDU's 256 bytes and status word, or longer than what was
//     asked, is malformed, and a card that refuses the NDEF application's
//     SELECT is not an NTAG 424 DNA (ErrNotNTAG424).
//   - The UID is fixed for the flow: a SUN message that names another UID
//     than the reader's, before or at the read-back, is ErrUIDChanged.
//   - Rekey and Reset follow the same rules after personalisation: the
//     journal (Bound) must vouch for the tag before any key is tried, the
//     five key versions decide the one key 0 to try, the journal hook runs
//     before the first change, and key 0 changes last (Reset changes the
//     NDEF file and its settings first, since they need keys 0 and 3). A
//     tag torn at any exchange is finished by running the same flow again,
//     with no failed authentication: each ChangeKey is atomic on the tag
//     and its version says which slots moved. When the reader gives no UID,
//     it comes from a SUN message that verifies, else GetVersion, else (a
//     random-ID tag) the PICCData one of our meta-read keys decrypts; the
//     journal still has to vouch for it.
//   - Genuine-chip check (origin.go): with Job.Genuine set, the NXP
//     originality signature is read (Read_Sig, plain, right after the NDEF
//     file) and verified over the 7-byte UID (ECDSA secp224r1, no hash)
//     before any key version is read or key tried when the UID is known,
//     else right after GetCardUID; either way before the journal hook and
//     the first write. A chip that fails, or does not know Read_Sig, is
//     ErrNotGenuine and left untouched.
//   - Randomness (RndA) comes from Options.Rand so a recorded transcript
//     replays byte for byte.
//   - LRP (lrp.go, personalise_lrp.go): a Job with LRP switches the tag to
//     LRP mode only after key 0, under a session with our key 0, and never
//     otherwise; the switch is the flow's last write. A tag's mode is
//     learnt from the 919D with which it refuses the other mode's
//     AuthenticateFirst before any cryptogram, so it costs no failure. A
//     job without LRP refuses an LRP tag (ErrLRPMode) before any write.
//   - Random ID (randomid.go): a Job with RandomID turns it on after key 0
//     and before the LRP switch and the read-back, so a tag taken away
//     before it is finished on its next presentation; a reader that shows
//     no UID cannot tell it is on, so the command is sent again, which
//     changes nothing on a tag that has it. Rekey and reset name a
//     random-ID tag by its SUN message, else by key 1 and GetCardUID
//     (life_randomid.go); the journal must still vouch for it.
//   - TagTamper (tamper.go): a template with {tt} writes the tamper-status
//     mirror; a chip without the loop refuses it (ErrNoTagTamper) before
//     any key is changed.
package encoder
