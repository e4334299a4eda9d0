// Package pcscdtest starts a private pcscd with vsmartcard "Virtual PCD"
// readers for tests, so that the real PC/SC stack can be exercised without
// hardware: tests insert simulated tags with reader/vpcd and talk to them
// through libpcsclite.
//
// How the daemon is started (pcsc-lite 1.9.9, vsmartcard-vpcd 3.3):
//
//   - pcscd 1.9.9 ignores PCSCLITE_CSOCK_NAME (only the client library reads
//     it) and always binds /run/pcscd/pcscd.comm, unless it is socket
//     activated. Start therefore creates the listening Unix socket itself
//     and hands it to pcscd as fd 3 with LISTEN_FDS=1 and LISTEN_PID set to
//     pcscd's own PID (a /bin/sh wrapper sets LISTEN_PID=$$ and execs
//     pcscd, so the PID does not change), exactly as systemd would. A
//     socket-activated pcscd does not check for, nor remove, the system
//     socket, and does not auto-exit. It still writes and, when stopped
//     with SIGTERM, removes /run/pcscd/pcscd.pid; scripts/setup.sh stops the
//     system pcscd, so nothing else uses that file on test machines.
//   - The command line is `pcscd -f -i -c <dir>/reader.conf`: foreground,
//     info-level log on stdout (kept for failure reports; the "daemon
//     ready." line is the readiness signal), private reader.conf.
//   - Every reader.conf entry gets its own copy of the vpcd driver (the
//     LIBPATH of Debian's /etc/reader.conf.d/vpcd): the driver keeps its
//     per-slot state in static variables indexed by slot only, and pcscd
//     reuses an already loaded library for entries with the same LIBPATH,
//     so two entries sharing one library would overwrite each other's
//     slots. Copies at different paths are separate dlopen instances.
//   - pcscd 1.9.9 does not number entries that share a FRIENDLYNAME (they
//     all come out as "… 00 00" and "… 00 01"), so entry k is named
//     "Virtual PCD" for k = 0 and "Virtual PCD k" otherwise.
//
// Readers and ports: each entry has two slots; entry k with
// DEVICENAME /dev/null:P exposes slot 0 on TCP port P and slot 1 on P+1
// (the driver listens on all interfaces; connect to 127.0.0.1). Reader i is
// slot i%2 of entry i/2, so for three entries:
//
//	i  reader name            port
//	0  Virtual PCD 00 00      P0
//	1  Virtual PCD 00 01      P0+1
//	2  Virtual PCD 1 00 00    P1
//	3  Virtual PCD 1 00 01    P1+1
//	4  Virtual PCD 2 00 00    P2
//	5  Virtual PCD 2 00 01    P2+1
//
// The base ports are picked at random among free ports below the
// ephemeral range. Start(t, n) rounds n up to an even number of readers;
// pcscd allows at most 16.
//
// The client library caches PCSCLITE_CSOCK_NAME at its first use in a
// process (pthread_once in getSocketName), so a test process can only ever
// talk to one socket path. Start therefore uses one socket path per test
// process (SocketPath) and runs at most one daemon at a time per process:
// a second Start waits until the first daemon's test has cleaned up. Tests
// set the variable with Daemon.Setenv (or t.Setenv with Daemon.Env) before
// their first PC/SC call; every later daemon in the same process reuses the
// same path, so the cached name stays right. Setup is Start and Setenv in
// one, Daemon.Insert puts a tag into a reader until the test ends, and
// UseSocket is what a TestMain calls to point the whole process at
// SocketPath: the set-ups every PC/SC test of tagline begins with.
//
// The package uses no cgo: readiness is the log line plus the vpcd ports
// being in the LISTEN state (read from /proc/net/tcp), not a PC/SC call. It
// deliberately does not probe the ports with a connection, because to the
// vpcd driver any connection is a card being inserted.
package pcscdtest
