// Package vectors loads the published test vectors in testdata/vectors so
// that every package's tests read one copy with its provenance.
//
// Invariants: the files are read from the repository, never from
// ../shared, so a user's clone runs every test; a missing or malformed
// vector fails the test that asked for it, it is never skipped.
package vectors
