// Package pgtest starts a private PostgreSQL server for a test, from the
// binaries of Debian's postgresql package (scripts/setup.sh installs it).
//
// Invariants:
//   - The server is the test's own: its data directory is under
//     t.TempDir(), it listens on a unix socket in that directory and on a
//     free TCP port of 127.0.0.1 only, with trust authentication for a
//     superuser named "tagline". Nothing is written outside the temporary
//     directory and no system cluster is touched.
//   - As root, initdb and postgres run as the unprivileged "postgres"
//     user (PostgreSQL refuses to run as root); the temporary directory is
//     made traversable for it.
//   - t.Cleanup stops the server by its PID (SIGINT, PostgreSQL's fast
//     shutdown; SIGKILL of that PID after 10 s) and waits for it.
//   - Without the binaries the test is skipped with a message naming
//     scripts/setup.sh, except under CI=true, where it fails: CI installs
//     the package, so its absence there is a bug.
package pgtest
