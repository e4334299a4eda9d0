// Package readerpaths runs the encoder through every reader path tagline
// has, against the same simulated NTAG 424 DNA (reader/sim), and measures
// what each path costs. It has no code of its own outside its tests.
//
// The paths:
//
//   - in-process: reader/sim's Reader; the reference.
//   - PC/SC: reader/pcsc → libpcsclite → a private pcscd
//     (internal/pcscdtest) → vsmartcard's vpcd driver → reader/vpcd's card
//     client → sim.Tag. Behind vpcd the reader has no UID to give (pcsc's
//     GET DATA FF CA reaches the tag, which answers 6E00), so the encoder
//     asks the tag (GetCardUID); the tests assert that path and that the
//     command sequence is the in-process one.
//   - libnfc: reader/libnfc → libnfc's pn532_uart driver → a pseudo-terminal
//     → internal/pn532emu → sim.Tag. The UID comes from anticollision.
//
// # Tests
//
// TestPCSCPersonalise and TestLibNFCPersonalise personalise a factory tag
// with encoder.Personalise, verify the read-back SUN message, check that
// the tag holds the keys derived from the master key for its UID, and read
// the tag as a phone would (capability container, NDEF file, no keys) on a
// second tap through the same stack.
//
// TestPCSCTagRemoved and TestLibNFCTagRemoved take the tag out of the field
// during authentication, the NDEF write, between two ChangeKeys, at key 0
// and on the first command after it, in two ways: the command never
// reaches the tag (command-lost), or the tag executes it and leaves before
// answering (answer-lost). The encoder must report reader.ErrTagRemoved at
// the right step, and the same tag presented again must end with our keys
// (the second attempt succeeds, or reports encoder.ErrAlreadyOurs when
// only the read-back was lost). Through pcscd, command-lost is
// vpcd.Options.RemoveAfter; answer-lost is the same socket close followed
// by the tag executing the command under its own RemoveDuring hook
// (vpcd.Options.OnAPDU runs after the socket is closed), because
// reader/vpcd answers a sim.Tag that left by its own hook with an empty
// frame instead of closing the socket, which blocks pcscd's transmit (see
// below). Through libnfc both are the emulator's own hooks
// (pn532emu.RemoveAfter, RemoveDuring), plus one case with the sim.Tag's
// own RemoveDuring, which pn532emu honours. The pcscd cases take about
// 1.2 s each, mostly pcscd's 400 ms polls (a torn exchange is reported
// only once pcscd's next poll confirms the card left); they run one after
// the other (see the libpcsclite crash below) and log the time of their
// steps, shown when one fails.
//
// TestPCSCEightLanes runs eight station lanes (station.Lane with Limit 1)
// on eight vpcd readers of one pcscd, one station and one journal: every
// tag is personalised, verified and bound, and the journal checks clean.
//
// # Benchmarks
//
// Not run by go test without -bench. For example:
//
//	go test ./internal/readerpaths/ -run '^$' -bench . -benchtime 20x
//
// BenchmarkPersonalisePath/{inprocess,pcsc,libnfc} personalise one fresh
// factory tag per iteration, without the tag's timing model, so that what
// differs between paths is the stacks' own cost, and report ms/tag,
// µs/apdu and apdus/tag (15 behind vpcd, GetCardUID included; 14 where
// the reader gives the UID). Presenting the tag and waiting for the reader
// to see it are outside the timer: pcscd notices a vpcd card only on its
// 400 ms poll, which is no encoding cost. The pcsc path inserts tags 16 at
// a time (all the readers pcscd allows) and then personalises them one
// after the other, so pcscd's polls are waited for once per 16 tags
// (make bench's -benchtime 2s would otherwise spend minutes waiting) and
// nothing else runs while a personalisation is timed.
//
// BenchmarkLanes/{sim,pcsc}/lanes={1,8} run with the timing model on
// (sim.Timing106: 85 µs per byte on air, 1 ms per EEPROM write), so that a
// lane waits on its tag as with real hardware instead of racing the others
// for the CPU. Each iteration is one tag per lane, with one station and
// one journal (fsynced commits included); they report tags/s, ms/tag (the
// time one tag spends in its lane) and, for lanes=8, the speedup over
// lanes=1 of the same path. sim runs station.Lane on in-process readers.
// pcsc runs station.Encode in one goroutine per vpcd reader; each reader
// holds a tag changer (one card stays inserted and a fresh sim.Tag is put
// behind it for every tag), because re-inserting through vpcd would put
// pcscd's 400 ms poll into every tag's time or force the lanes into
// lockstep rounds. Per-tag SCardConnect and GET DATA are therefore not in
// the lanes figures.
//
// # Skips
//
// The PC/SC and libnfc tests and benchmarks are in files built only with
// cgo (reader/pcsc and reader/libnfc need it). Built with CGO_ENABLED=0 the
// package still vets and builds; its only test, TestStacksNeedCgo, skips
// (fails when CI=true), and the benchmarks run the in-process and sim
// parts only. With cgo, the PC/SC tests
// skip when pcscd or the vpcd driver is missing (pcscdtest.Start) unless
// CI=true, where they fail; libnfc-dev is needed to compile at all.
//
// # Workarounds for gaps found in other packages
//
//   - reader/sim: a tag taken out by its own fault hook (RemoveDuring,
//     RemoveAfter) stays out until sim.Reader.Present activates it again.
//     vpcd.Insert and pn532emu.SetTag do not: behind vpcd the tag answers
//     nothing (next point), and pn532emu takes it out of the field again at
//     once (its Gone channel is still closed), so libnfc never finds it.
//     The tests bring it back with a throwaway sim.Reader's Present
//     (reactivate), which is also the fresh activation (session and
//     selection lost) that vpcd does not give a re-inserted tag.
//   - reader/vpcd: when Process returns nil (a sim.Tag that left by its own
//     hook) the card writes an empty frame and keeps the socket open,
//     instead of leaving the reader as pn532emu does. pcscd's
//     SCardTransmit then does not return: the encoder's exchange ends only
//     with its context (context deadline exceeded, not
//     reader.ErrTagRemoved) and the card stays inserted. The tests never
//     let a sim.Tag hook fire while it answers vpcd; see answer-lost.
//   - libpcsclite 1.9.9 (through reader/pcsc): concurrent PC/SC calls from
//     several goroutines crash the process now and then with SIGSEGV in
//     SCardDisconnect, while other threads are in SCardEstablishContext or
//     SCardReleaseContext: two runs out of three of
//     BenchmarkPersonalisePath/pcsc -benchtime 2s when it still
//     disconnected 16 tags at once, and once in 150 runs of
//     TestPCSCEightLanes with station.Lane. The fault is in simclist's
//     list_seek (libpcsclite.so.1.0.0+0x6e2e), dereferencing a list
//     element. In Debian's binary, SCardDisconnect removes the handle
//     after the exchange with pcscd holding only its own context's mutex,
//     not the library's client mutex, although that removal walks the
//     global context list and every context's handle list, which other
//     threads change meanwhile (SCardEstablishContext appends a context,
//     SCardReleaseContext frees one, SCardConnect adds a handle). The
//     benchmarks make their connects and disconnects one at a time and
//     TestPCSCTagRemoved runs its cases one after the other;
//     TestPCSCEightLanes keeps the concurrency, which is what the station
//     does, until reader/pcsc serialises those calls.
package readerpaths
