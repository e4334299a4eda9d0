package boltstore

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// The tap log makes accepted counters durable with one small write and one
// fdatasync per group of taps, instead of a bbolt commit (which writes
// every dirty B+tree page and syncs twice). It is a preallocated file of
// fixed-size records. Groups are written one after the other from the
// first slot; when the next group would not fit, the committer moves the
// counters into bbolt (a checkpoint) and starts again at the first slot.
//
//	header  16 bytes  "tagline-taplog1\n"
//	record  24 bytes  uid length (1) ‖ uid bytes (10, zero padded) ‖ counter (4,
//	                  big-endian) ‖ zero (5) ‖ CRC-32C of the first 20 bytes (4)
//
// Every record with a valid CRC is a counter that was accepted at some
// time, and the last accepted counter of a UID is the maximum of all its
// accepted counters, so replay applies every valid record in the file as
// max(stored, record), in any order and any number of times. Records of
// earlier rounds left behind the write position, or a torn record, are
// therefore harmless: no epoch or end marker is needed. Earlier releases
// used the file as a ring of the same records; Open replays such a file
// the same way.
const (
	logMagic   = "tagline-taplog1\n"
	logRecSize = 24
	maxUIDLen  = 10
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

type tapLog struct {
	f     *os.File
	slots int // records the file holds
	next  int // the slot the next group starts at
}

// openLog opens or creates the log next to the database with room for
// slots records (or more, if the file has them).
func openLog(path string, slots int) (*tapLog, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	l := &tapLog{f: f, slots: slots}
	if err := l.init(path); err != nil {
		f.Close()
		return nil, err
	}
	return l, nil
}

func (l *tapLog) init(path string) error {
	st, err := l.f.Stat()
	if err != nil {
		return err
	}
	if st.Size() > 0 {
		head := make([]byte, len(logMagic))
		if _, err := l.f.ReadAt(head, 0); err != nil || string(head) != logMagic {
			return fmt.Errorf("%s is not a tap log; move it away to open the database", path)
		}
		l.slots = max(l.slots, int((st.Size()-int64(len(logMagic)))/logRecSize))
		return nil
	}
	// Preallocate with written zeros so that a later fdatasync never has
	// to update the file size.
	b := make([]byte, len(logMagic)+l.slots*logRecSize)
	copy(b, logMagic)
	if _, err := l.f.WriteAt(b, 0); err != nil {
		return err
	}
	if err := l.f.Sync(); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// replay returns the highest counter of every UID found in valid records.
// Its memory is bounded by the file, which Open sized.
func (l *tapLog) replay() (map[string]uint32, error) {
	data := make([]byte, l.slots*logRecSize)
	n, err := l.f.ReadAt(data, int64(len(logMagic)))
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	data = data[:n-n%logRecSize]
	out := map[string]uint32{}
	for ; len(data) >= logRecSize; data = data[logRecSize:] {
		r := data[:logRecSize]
		if crc32.Checksum(r[:20], crcTable) != binary.BigEndian.Uint32(r[20:]) {
			continue
		}
		ul := int(r[0])
		if ul == 0 || ul > maxUIDLen {
			continue
		}
		uid := strings.ToUpper(hex.EncodeToString(r[1 : 1+ul]))
		if c := binary.BigEndian.Uint32(r[11:15]); c > out[uid] {
			out[uid] = c
		}
	}
	return out, nil
}

// appendRecord appends one record to buf.
// uid is upper-case hex of at most maxUIDLen bytes (the store's keys are
// batch.NormalizeUID's output); it is stored as bytes.
func appendRecord(buf []byte, uid string, ctr uint32) []byte {
	var r [logRecSize]byte
	n, err := hex.Decode(r[1:1+maxUIDLen], []byte(uid))
	if err != nil || len(uid) > 2*maxUIDLen {
		n = 0 // replay skips it; the store never makes such a uid
	}
	r[0] = byte(n)
	binary.BigEndian.PutUint32(r[11:15], ctr)
	binary.BigEndian.PutUint32(r[20:], crc32.Checksum(r[:20], crcTable))
	return append(buf, r[:]...)
}

// fits tells whether n more records fit before the end of the file.
func (l *tapLog) fits(n int) bool { return l.next+n <= l.slots }

// write puts the records of buf at the write position and makes them
// durable; the caller has checked they fit.
func (l *tapLog) write(buf []byte) error {
	if _, err := l.f.WriteAt(buf, int64(len(logMagic))+int64(l.next)*logRecSize); err != nil {
		return err
	}
	if err := fdatasync(l.f); err != nil {
		return err
	}
	l.next += len(buf) / logRecSize
	return nil
}

// rewind starts the next group at the first slot, once every counter in
// the file is in bbolt.
func (l *tapLog) rewind() { l.next = 0 }

func (l *tapLog) close() error { return l.f.Close() }
