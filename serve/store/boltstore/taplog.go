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
// fixed-size records used as a ring: record n goes to slot n mod capacity,
// and a slot is overwritten only after a checkpoint has put the counter it
// holds into bbolt.
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
// therefore harmless: no epoch or end marker is needed.

const (
	logMagic   = "tagline-taplog1\n"
	logRecSize = 24
	maxUIDLen  = 10
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

type tapLog struct {
	f    *os.File
	size int64 // file size (preallocated)
}

// openLog opens or creates the log next to the database with room for
// capacity records.
func openLog(path string, capacity int) (*tapLog, error) {
	size := int64(len(logMagic)) + int64(capacity)*logRecSize
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if st.Size() == 0 {
		// Preallocate with written zeros so that a later fdatasync never
		// has to update the file size.
		if err := writeFull(f, size); err != nil {
			f.Close()
			return nil, err
		}
		if err := syncDir(filepath.Dir(path)); err != nil {
			f.Close()
			return nil, err
		}
	} else {
		head := make([]byte, len(logMagic))
		if _, err := f.ReadAt(head, 0); err != nil || string(head) != logMagic {
			f.Close()
			return nil, fmt.Errorf("%s is not a tap log", path)
		}
		size = max(size, st.Size())
	}
	return &tapLog{f: f, size: size}, nil
}

func writeFull(f *os.File, size int64) error {
	b := make([]byte, size)
	copy(b, logMagic)
	if _, err := f.WriteAt(b, 0); err != nil {
		return err
	}
	return f.Sync()
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
func (l *tapLog) replay() (map[string]uint32, error) {
	data := make([]byte, l.size-int64(len(logMagic)))
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

// capacity is the number of record slots.
func (l *tapLog) capacity() uint64 { return uint64(l.size-int64(len(logMagic))) / logRecSize }

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

// write puts the records of buf in the slots from lsn on (wrapping at the
// end of the file) and makes them durable.
func (l *tapLog) write(buf []byte, lsn uint64) error {
	capa := l.capacity()
	for len(buf) > 0 {
		slot := lsn % capa
		n := min(uint64(len(buf)/logRecSize), capa-slot)
		if _, err := l.f.WriteAt(buf[:n*logRecSize], int64(len(logMagic))+int64(slot)*logRecSize); err != nil {
			return err
		}
		buf, lsn = buf[n*logRecSize:], lsn+n
	}
	return fdatasync(l.f)
}

func (l *tapLog) close() error { return l.f.Close() }
