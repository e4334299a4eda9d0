package pcscdtest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tagline-station/tagline/internal/testenv"
)

// EnvSocket is the client library's variable naming pcscd's socket.
const EnvSocket = "PCSCLITE_CSOCK_NAME"

// MaxReaders is pcsc-lite's PCSCLITE_MAX_READERS_CONTEXTS.
const MaxReaders = 16

// DriverConf is Debian's reader.conf snippet for vpcd; its LIBPATH names
// the driver.
var DriverConf = "/etc/reader.conf.d/vpcd"

// startTimeout bounds one attempt to bring pcscd up. It is generous for a
// loaded 2-core CI machine; pcscd is normally ready in a few milliseconds.
const startTimeout = 20 * time.Second

// Daemon is a running private pcscd.
type Daemon struct {
	dir     string
	socket  string
	ports   []int // base port of each entry
	cmd     *exec.Cmd
	exited  chan struct{}
	log     *logBuffer
	readers int

	stopOnce sync.Once
}

// one daemon per process at a time: see the package comment.
var slot = make(chan struct{}, 1)

var (
	socketOnce sync.Once
	socketPath string
)

// SocketPath is the private pcscd socket used by every Daemon of this
// process.
func SocketPath() string {
	socketOnce.Do(func() {
		name := fmt.Sprintf("tagline-pcscd-%d", os.Getpid())
		dir := filepath.Join(os.TempDir(), name)
		// sun_path holds 108 bytes including the NUL.
		if len(filepath.Join(dir, "pcscd.comm")) > 100 {
			dir = filepath.Join("/tmp", name)
		}
		socketPath = filepath.Join(dir, "pcscd.comm")
	})
	return socketPath
}

// Start starts a private pcscd with at least readers vpcd reader slots
// (rounded up to even) and stops it when the test ends. When pcscd or the
// vpcd driver is missing it skips the test, or fails it when the
// environment has CI=true (CI must run these tests).
func Start(t testing.TB, readers int) *Daemon {
	t.Helper()
	if readers < 1 || readers > MaxReaders {
		t.Fatalf("pcscdtest: %d readers requested; pcscd supports 1 to %d", readers, MaxReaders)
	}
	pcscd, driver, err := findTools()
	if err != nil {
		msg := fmt.Sprintf("pcscdtest: %v\n"+
			"********************************************************************\n"+
			"* PC/SC tests need pcscd and vsmartcard-vpcd: run scripts/setup.sh *\n"+
			"********************************************************************", err)
		testenv.Missing(t, msg)
	}

	select {
	case slot <- struct{}{}:
	default:
		t.Logf("pcscdtest: waiting for this process's other pcscd to stop")
		slot <- struct{}{}
	}

	var d *Daemon
	for attempt := 1; ; attempt++ {
		d, err = start(pcscd, driver, readers)
		if err == nil {
			break
		}
		if attempt == 3 || !errors.Is(err, errPortTaken) {
			<-slot
			t.Fatalf("pcscdtest: %v", err)
		}
		t.Logf("pcscdtest: attempt %d: %v; retrying with other ports", attempt, err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("pcscdtest: pcscd log (pid %d):\n%s", d.PID(), d.Log())
		}
		d.Stop()
		<-slot
	})
	return d
}

var errPortTaken = errors.New("a vpcd port is not listening")

func start(pcscd, driver string, readers int) (_ *Daemon, err error) {
	entries := (readers + 1) / 2
	d := &Daemon{
		socket:  SocketPath(),
		exited:  make(chan struct{}),
		log:     &logBuffer{ready: make(chan struct{})},
		readers: 2 * entries,
	}
	d.dir, err = os.MkdirTemp("", "pcscdtest-")
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(d.dir)
		}
	}()
	d.ports, err = pickPorts(entries)
	if err != nil {
		return nil, err
	}

	var conf strings.Builder
	for k, port := range d.ports {
		lib := filepath.Join(d.dir, fmt.Sprintf("libifdvpcd-%d.so", k))
		if err := copyFile(driver, lib); err != nil {
			return nil, err
		}
		fmt.Fprintf(&conf, "FRIENDLYNAME \"%s\"\nDEVICENAME /dev/null:%d\nLIBPATH %s\n\n", friendlyName(k), port, lib)
	}
	confPath := filepath.Join(d.dir, "reader.conf")
	if err := os.WriteFile(confPath, []byte(conf.String()), 0o644); err != nil {
		return nil, err
	}

	sockFile, err := listenSocket(d.socket)
	if err != nil {
		return nil, err
	}
	defer sockFile.Close() // pcscd has its own copy once started

	// LISTEN_PID must be pcscd's PID, which only the child knows: the shell
	// sets it to its own PID and execs pcscd in its place.
	d.cmd = exec.Command("/bin/sh", "-c", `LISTEN_PID=$$ LISTEN_FDS=1 exec "$0" "$@"`,
		pcscd, "-f", "-i", "-c", confPath)
	d.cmd.Env = childEnv()
	d.cmd.ExtraFiles = []*os.File{sockFile} // fd 3 = SD_LISTEN_FDS_START
	d.cmd.Stdout = d.log
	d.cmd.Stderr = d.log
	d.cmd.SysProcAttr = sysProcAttr()
	if err := d.cmd.Start(); err != nil {
		os.Remove(d.socket)
		return nil, fmt.Errorf("start pcscd: %w", err)
	}
	go func() {
		_ = d.cmd.Wait()
		close(d.exited)
	}()

	timer := time.NewTimer(startTimeout)
	defer timer.Stop()
	select {
	case <-d.log.ready:
	case <-d.exited:
		d.Stop()
		return nil, fmt.Errorf("pcscd exited during start-up (%v); log:\n%s", d.cmd.ProcessState, d.Log())
	case <-timer.C:
		d.Stop()
		return nil, fmt.Errorf("pcscd not ready after %v; log:\n%s", startTimeout, d.Log())
	}
	if err := d.waitListening(timer.C); err != nil {
		d.Stop()
		return nil, err
	}
	return d, nil
}

// waitListening waits until every vpcd port is in the LISTEN state. The
// driver opens them before pcscd logs "daemon ready", so this normally
// succeeds at once; a port still missing then was taken by someone else.
func (d *Daemon) waitListening(timeout <-chan time.Time) error {
	want := make([]int, 0, d.readers)
	for _, p := range d.ports {
		want = append(want, p, p+1)
	}
	missing := want
	for i := 0; ; i++ {
		listening, ok := listeningPorts()
		if !ok {
			return nil // no /proc: trust the log line
		}
		missing = missing[:0]
		for _, p := range want {
			if !listening[p] {
				missing = append(missing, p)
			}
		}
		if len(missing) == 0 {
			return nil
		}
		if i == 20 {
			return fmt.Errorf("%w: ports %v; log:\n%s", errPortTaken, missing, d.Log())
		}
		select {
		case <-timeout:
			return fmt.Errorf("%w: ports %v; log:\n%s", errPortTaken, missing, d.Log())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Readers is the number of reader slots (the requested number rounded up
// to even).
func (d *Daemon) Readers() int { return d.readers }

// Addr is the address a vpcd card connects to to be inserted in reader i.
func (d *Daemon) Addr(i int) string {
	d.check(i)
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(d.ports[i/2]+i%2))
}

// ReaderName is the PC/SC name of reader i.
func (d *Daemon) ReaderName(i int) string {
	d.check(i)
	return fmt.Sprintf("%s 00 %02X", friendlyName(i/2), i%2)
}

// ReaderNames lists the PC/SC names of all readers, in reader order.
func (d *Daemon) ReaderNames() []string {
	names := make([]string, d.readers)
	for i := range names {
		names[i] = d.ReaderName(i)
	}
	return names
}

func (d *Daemon) check(i int) {
	if i < 0 || i >= d.readers {
		panic(fmt.Sprintf("pcscdtest: reader %d out of range [0,%d)", i, d.readers))
	}
}

// Socket is the path of the daemon's socket (SocketPath).
func (d *Daemon) Socket() string { return d.socket }

// Env is the environment a PC/SC client needs to reach this daemon, for a
// subprocess's cmd.Env or for t.Setenv.
func (d *Daemon) Env() []string { return []string{EnvSocket + "=" + d.socket} }

// Setenv points this process's PC/SC client library at the daemon for the
// rest of the test. Call it before the first PC/SC call of the process; see
// the package comment.
func (d *Daemon) Setenv(t testing.TB) {
	t.Helper()
	t.Setenv(EnvSocket, d.socket)
}

// PID is the process ID of pcscd.
func (d *Daemon) PID() int { return d.cmd.Process.Pid }

// Log returns what pcscd has logged so far (its last megabyte).
func (d *Daemon) Log() string { return d.log.String() }

// Stop terminates pcscd (SIGTERM, then SIGKILL after 5 s) by its PID and
// removes its files. Start registers it as a test cleanup; calling it
// earlier simulates pcscd going away. It is idempotent.
func (d *Daemon) Stop() {
	d.stopOnce.Do(func() {
		if d.cmd != nil && d.cmd.Process != nil {
			_ = d.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-d.exited:
			case <-time.After(5 * time.Second):
				_ = d.cmd.Process.Kill()
				<-d.exited
			}
		}
		os.Remove(d.socket)
		os.Remove(filepath.Dir(d.socket))
		os.RemoveAll(d.dir)
	})
}

func friendlyName(entry int) string {
	if entry == 0 {
		return "Virtual PCD"
	}
	return fmt.Sprintf("Virtual PCD %d", entry)
}

// findTools locates pcscd and the vpcd driver.
func findTools() (pcscd, driver string, err error) {
	pcscd, err = exec.LookPath("pcscd")
	if err != nil {
		pcscd = "/usr/sbin/pcscd"
		if _, serr := os.Stat(pcscd); serr != nil {
			return "", "", errors.New("pcscd not found (Debian package pcscd)")
		}
	}
	conf, err := os.ReadFile(DriverConf)
	if err != nil {
		return "", "", fmt.Errorf("vpcd driver configuration: %w (Debian package vsmartcard-vpcd)", err)
	}
	for _, line := range strings.Split(string(conf), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "LIBPATH" {
			driver = f[1]
		}
	}
	if driver == "" {
		return "", "", fmt.Errorf("no LIBPATH in %s", DriverConf)
	}
	if _, err := os.Stat(driver); err != nil {
		return "", "", fmt.Errorf("vpcd driver: %w (Debian package vsmartcard-vpcd)", err)
	}
	return pcscd, driver, nil
}

// listenSocket creates the listening Unix socket pcscd will serve and
// returns a file for it; the Go listener is closed without unlinking.
func listenSocket(path string) (*os.File, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	os.Remove(path) // left over from an earlier daemon of this process
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("pcscd socket: %w", err)
	}
	ln.SetUnlinkOnClose(false)
	f, err := ln.File()
	ln.Close()
	if err != nil {
		os.Remove(path)
		return nil, err
	}
	return f, nil
}

// childEnv is this process's environment without variables that would
// confuse pcscd's socket activation.
func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "LISTEN_") || strings.HasPrefix(kv, "NOTIFY_SOCKET=") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// pickPorts returns n base ports P such that P and P+1 are free on all
// interfaces, below the kernel's ephemeral range so that outgoing
// connections do not take them in the meantime.
func pickPorts(n int) ([]int, error) {
	lo, hi := 20000, 30000
	if eph := ephemeralLow(); eph > 0 && eph-1000 < hi {
		hi = max(eph-1000, lo+2000)
	}
	used := map[int]bool{}
	var ports []int
	for tries := 0; len(ports) < n; tries++ {
		if tries > 1000 {
			return nil, errors.New("no free port pair found")
		}
		p := lo + 2*rand.IntN((hi-lo)/2)
		if used[p] || !free(p) || !free(p+1) {
			continue
		}
		used[p] = true
		ports = append(ports, p)
	}
	return ports, nil
}

func free(port int) bool {
	ln, err := net.Listen("tcp", ":"+strconv.Itoa(port))
	if err != nil {
		return false
	}
	ln.Close()
	return true
}

func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	n, _ := strconv.Atoi(f[0])
	return n
}

// listeningPorts reads the TCP ports in the LISTEN state from /proc/net/tcp
// and tcp6; ok is false when neither can be read.
func listeningPorts() (ports map[int]bool, ok bool) {
	ports = map[int]bool{}
	for _, name := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(name)
		if err != nil {
			continue
		}
		ok = true
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			// sl local_address rem_address st ...; st 0A is LISTEN.
			if len(f) < 4 || f[3] != "0A" {
				continue
			}
			i := strings.LastIndexByte(f[1], ':')
			if i < 0 {
				continue
			}
			if p, err := strconv.ParseUint(f[1][i+1:], 16, 16); err == nil {
				ports[int(p)] = true
			}
		}
	}
	return ports, ok
}

func copyFile(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b, 0o644)
}

// logBuffer keeps pcscd's output (the last MiB) and signals the readiness
// line.
type logBuffer struct {
	mu       sync.Mutex
	buf      []byte
	ready    chan struct{}
	gotReady bool
}

const maxLog = 1 << 20

var readyLine = []byte("daemon ready.")

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	if !l.gotReady && bytes.Contains(l.buf, readyLine) {
		l.gotReady = true
		close(l.ready)
	}
	if len(l.buf) > maxLog {
		l.buf = append(l.buf[:0], l.buf[len(l.buf)-maxLog/2:]...)
	}
	return len(p), nil
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return string(l.buf)
}
