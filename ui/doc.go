// Package ui is the operator's screen at the encoding station: a
// bubbletea program that shows, in letters readable from a metre away,
// what the tag on the reader needs from the operator now, with the
// batch's progress, the pace and the last few tags underneath.
//
// The big block says one of READY (waiting for a tag), HOLD (a tag is
// being encoded), PASS, FAIL (with the reason in plain words and what to
// do), ALREADY DONE (a duplicate), NO READER and PAUSED. A result stays up
// until the next tag arrives, so a glance after taking the tag away still
// finds it.
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
//     (one command per event, re-issued after each), the gate, the log.
//   - Logs go to Config.Logger or the file at Config.LogPath, never to the
//     screen.
//   - No state is told by colour alone: with NoColor (or a terminal
//     without colour) every state still has its own words.
//   - The view never exceeds the terminal: at 80×24 the state, its reason
//     and what to do, progress and counts always show; the lists shrink
//     first.
package ui
