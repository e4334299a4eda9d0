package boltstore

import (
	"bufio"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	bolt "go.etcd.io/bbolt"
)

// Releases before this one made accepted counters durable in a tap log
// next to the database, <path>.taplog, and moved them into the ctr bucket
// later. Open folds such a log in once and removes it, so that an upgrade
// after a crash loses no accepted counter.
//
//	header  16 bytes  "tagline-taplog1\n"
//	record  24 bytes  uid length (1) ‖ uid bytes (10, zero padded) ‖ counter (4,
//	                  big-endian) ‖ zero (5) ‖ CRC-32C of the first 20 bytes (4)
//
// Every record with a valid CRC is a counter that was accepted at some
// time, and the last accepted counter of a UID is the maximum of its
// accepted counters, so every valid record is applied as max(stored,
// record), in any order; a torn or stale record is harmless.
const (
	logMagic   = "tagline-taplog1\n"
	logRecSize = 24
	maxUIDLen  = 10
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// foldOldTapLog raises the counters of db to those of the tap log at path,
// in one transaction, then removes the log. A crash in between folds the
// same log in again, which changes nothing.
func foldOldTapLog(db *bolt.DB, path string) error {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	ctrs, err := readOldTapLog(f)
	f.Close()
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for uid, c := range ctrs {
			if err := raiseCounter(tx, uid, c); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := os.Remove(path); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

// readOldTapLog returns the highest counter of every UID in the valid
// records of r. It reads record by record, so the memory it takes is
// bounded by the tags the log names, not by the file.
func readOldTapLog(r io.Reader) (map[string]uint32, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	head := make([]byte, len(logMagic))
	if _, err := io.ReadFull(br, head); err != nil || string(head) != logMagic {
		return nil, fmt.Errorf("not a tap log")
	}
	out := map[string]uint32{}
	var rec [logRecSize]byte
	for {
		_, err := io.ReadFull(br, rec[:])
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if crc32.Checksum(rec[:20], crcTable) != binary.BigEndian.Uint32(rec[20:]) {
			continue
		}
		ul := int(rec[0])
		if ul == 0 || ul > maxUIDLen {
			continue
		}
		uid := strings.ToUpper(hex.EncodeToString(rec[1 : 1+ul]))
		if c := binary.BigEndian.Uint32(rec[11:15]); c > out[uid] {
			out[uid] = c
		}
	}
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
