// Package ui is the operator's screen at the encoding station: a
// bubbletea program that shows, in letters readable from a few metres,
// what each reader's tag needs from the operator now, with the batch's
// progress, the pace and the last few tags underneath.
//
// A lane's word is one of READY (waiting for a tag), HOLD (a tag is being
// encoded: hold it there), PASS, FAIL (with the reason in plain words and
// what to do), ALREADY DONE (a duplicate), NO READER, STALLED (the reader
// stopped answering), PAUSED and STOP (the journal refused a write). A
// result stays up until that lane's next tag arrives, so a glance after
// taking the tag away still finds it.
//
// Layout. One lane: one big block (the word in block letters, a summary
// line, Why and Do), then progress, pace, counts and the lists of last
// tags and readers. Two lanes or more: a panel per lane, each with the
// lane's name (reader names are cut in the middle, where readers of one
// model differ least: "ACS ACR122…rface 00 01"), its word as large as the
// panel allows (block letters, letters of half-blocks three lines high,
// or plain words), a short line, and Why and Do as room goes, Do before
// Why. Two lanes sit side by side when both get full-size letters, else
// one above the other; three and four lanes take two columns; more take
// columns of at least 52 cells (two at 80×24, so eight lanes are four
// rows of panels five lines high). One lane's result never hides
// another's. A terminal of 40 lines or more keeps the last tags under the
// panels.
//
// Station-wide state: the header names the batch and carries flags:
// SIMULATED (Config.Simulated: the tags are simulated), JOURNAL HOLD,
// PAUSED, readers lost or stalled, STOPPED. A journal hold (station.EvHold)
// turns every lane not in the middle of a tag to STOP, with a banner that
// says why and what to do (free disk space or fix the disk, then press p:
// the runtime probes the journal again on resume, and holds again with a
// new event if it still refuses). The background sync's state
// (station.EvSync) is at the right of the footer: "SYNC OFFLINE · 37 to
// send · ack 2 min ago". A FAIL, and a journal hold, ring the terminal's
// bell (BEL on Config.Out; the renderer writes a frame with one write, so
// the bell cannot land inside one).
//
// Keys are one bubbles/key KeyMap (keys.go); the footer and the help
// screen's key table are rendered by bubbles/help from it, styled to look
// as the station always drew them.
//
// Invariants:
//   - The model changes only in Update; View is a function of the model.
//     Time comes from Config.Now and is read once per message, so a fixed
//     clock gives byte-stable screens (the golden tests rely on it).
//   - All input and output happen in tea.Cmds: reading the lanes' events
//     (one command per event, re-issued after each), the gate, the log,
//     the bell.
//   - Logs go to Config.Logger or the file at Config.LogPath, never to the
//     screen.
//   - No state is told by colour alone: with NoColor (or a terminal
//     without colour) every state still has its own words, and OFFLINE is
//     a word.
//   - Events that concern the station (EvHold, EvSync) never make a lane;
//     a lane's event of any kind but EvStalled ends its stall.
//   - The view never exceeds the terminal: at 80×24 the state, its reason
//     and what to do, progress and counts always show for one lane, and
//     each lane's word and Do line for up to eight; the lists shrink
//     first.
package ui
