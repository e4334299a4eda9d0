// Package cmd is tagline's command line: a cobra command tree over the
// station, the journal, the keys and the readers.
//
// Execute is the whole program; cmd/tagline/main.go only hands it the
// process's arguments and standard streams and exits with its result.
// Every command writes through cmd.OutOrStdout and cmd.ErrOrStderr, returns
// its error instead of exiting, and exitcodes.go maps errors to exit codes
// in one place.
package cmd
