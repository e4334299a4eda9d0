// Package cmd is tagline's command line: a cobra command tree over the
// station, the journal, the keys and the readers.
//
// Execute is the whole program; cmd/tagline/main.go only hands it the
// process's arguments and standard streams and exits with its result.
// Every command writes through cmd.OutOrStdout and cmd.ErrOrStderr, returns
// its error instead of exiting, and exitcodes.go maps errors to exit codes
// in one place: by the kind each package gives its errors (internal/errkind),
// not by the errors themselves.
//
// Invariants:
//   - Every read of outside input is bounded (readlimit.go): key files and
//     their standard input 4 KiB (package keys), config and token files
//     1 MiB; anything larger is refused with exit 2 after reading just past
//     the limit.
//   - The --log file is never lost silently: a file that takes no first
//     record stops the command (exit 2), and records lost later are counted
//     and reported when the command ends (exit 1 if nothing else failed).
//   - A run is judged by each tag's last attempt: a tag torn and finished
//     later in the same run is encoded.
//   - rekey and reset prove the batch ours before opening a reader (its
//     tags were bound with this master key: else exit 2, nothing written)
//     and each tag before touching it (station.Life); a tag not done
//     makes the run exit 3.
package cmd
