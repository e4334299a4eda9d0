// Package snapshot lets the commands that only read a journal work while a
// station holds it. bbolt gives one process the file; that process (the
// holder) answers on a Unix socket beside the journal, <journal>.sock,
// with who it is and with a consistent copy of the journal taken in one
// read transaction. The reader writes the copy to a private temporary file
// and opens that read-only, so batch list/show/export, journal check and
// verify run their usual code on the journal as it was at one instant.
//
// Invariants:
//   - Only the process that holds the journal's write lock serves: Serve is
//     called after the journal is open for writing, so a socket found
//     there before is stale and replaced.
//   - The socket is the owner's only (mode 0600), and it only ever sends:
//     nothing a client says changes the journal.
//   - Every read is bounded: the request line to 64 bytes within 2 s, the
//     answer's header to 4 KiB, the copy to the size announced (at most
//     MaxSize), and a client that does not take the copy at a reasonable
//     rate is cut off, so that no read transaction is held open long
//     enough to hold up the station's writes.
//   - At most two copies are sent at once; a third asker is told to retry.
//   - A copy is opened by batch.Open like any journal, so its pages and
//     records are checked before anything is read from it.
package snapshot
