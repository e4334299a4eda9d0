package snapshot

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/tagline-station/tagline/batch"
)

// MaxSize bounds the copy a client accepts.
const MaxSize = 1 << 40

// Holder says who holds a journal.
type Holder struct {
	Station string    `json:"station"`
	PID     int       `json:"pid"`
	Since   time.Time `json:"since"`
}

func (h Holder) String() string {
	return fmt.Sprintf("station %s, pid %d, since %s", h.Station, h.PID, h.Since.Format(time.RFC3339))
}

// header is the first line of every answer.
type header struct {
	Holder *Holder `json:"holder,omitempty"`
	Size   int64   `json:"size,omitempty"`
	Error  string  `json:"error,omitempty"`
}

// SocketPath is where the holder of the journal at path answers.
func SocketPath(journal string) string { return journal + ".sock" }

// Server answers on a held journal's socket until Close.
type Server struct {
	ln    net.Listener
	path  string
	store *batch.Store
	h     Holder
	log   *slog.Logger
	slots chan struct{}
	wg    sync.WaitGroup
	once  sync.Once
}

// Serve starts answering for store, which the caller holds open for
// writing. A path too long for a Unix socket is an error the caller may
// log and go on without: readers then get the "held" message.
func Serve(store *batch.Store, h Holder, log *slog.Logger) (*Server, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	path := SocketPath(store.Path())
	// Only the lock holder gets here, so what is there is a dead
	// station's socket, or something that must not be mistaken for ours.
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&os.ModeSocket == 0 {
			return nil, fmt.Errorf("snapshot socket %s: a file that is not a socket is in the way; move it aside", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("snapshot socket %s: %w", path, err)
		}
	}
	ln, err := listenPrivate(path)
	if err != nil {
		return nil, fmt.Errorf("snapshot socket %s: %w", path, err)
	}
	s := &Server{ln: ln, path: path, store: store, h: h, log: log, slots: make(chan struct{}, 2)}
	s.wg.Add(1)
	go s.accept()
	return s, nil
}

// Close stops answering, waits for copies in progress and removes the
// socket.
func (s *Server) Close() error {
	var err error
	s.once.Do(func() {
		err = s.ln.Close()
		s.wg.Wait()
		if rerr := os.Remove(s.path); rerr != nil && !errors.Is(rerr, os.ErrNotExist) && err == nil {
			err = rerr
		}
	})
	return err
}

func (s *Server) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer c.Close()
			if err := s.answer(c); err != nil {
				s.log.Warn("snapshot request", "err", err)
			}
		}()
	}
}

func (s *Server) answer(c net.Conn) error {
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	line, err := bufio.NewReader(io.LimitReader(c, 64)).ReadString('\n')
	if err != nil {
		return fmt.Errorf("read request: %w", err)
	}
	switch strings.TrimSpace(line) {
	case "holder":
		return writeHeader(c, header{Holder: &s.h})
	case "snapshot":
		return s.sendCopy(c)
	}
	return writeHeader(c, header{Error: "unknown request"})
}

func (s *Server) sendCopy(c net.Conn) error {
	select {
	case s.slots <- struct{}{}:
		defer func() { <-s.slots }()
	default:
		return writeHeader(c, header{Error: "two copies are being sent already; try again in a moment"})
	}
	start := time.Now()
	err := s.store.WriteSnapshot(c, func(size int64) error {
		// 10 s plus 20 MB/s: a reader slower than that is cut off rather
		// than keep a read transaction open under the station.
		_ = c.SetWriteDeadline(time.Now().Add(10*time.Second + time.Duration(size/20e6)*time.Second))
		return writeHeader(c, header{Holder: &s.h, Size: size})
	})
	s.log.Info("snapshot sent", "took", time.Since(start), "err", err)
	return err
}

func writeHeader(w io.Writer, h header) error {
	b, err := json.Marshal(h)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}
