// Package lines reads newline-terminated lines from outside input with a
// bound on each line.
//
// Invariants:
//   - No call holds more than max bytes of a line plus one read buffer:
//     a line longer than max fails with ErrTooLong as soon as the bound is
//     passed, and the rest of it is not read.
//   - The line is returned with its '\n' when it had one, so that callers
//     that checksum lines (manifests, sync chunks) see the bytes as sent.
//   - max counts the line's content, neither '\n' nor a '\r' before it.
package lines
