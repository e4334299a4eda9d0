package batch

import (
	"bytes"
	"testing"
)

// The lifecycle records below are the content of the *_v2.bin files in
// testdata, written by the encoders of the lifecycle records before they
// shared one field list with the binding, intent and batch codecs: a later
// tagline must read them as these records and write them byte for byte
// again. Never regenerate the files to make this test pass.
var (
	v2RekeyOp = Op{Kind: OpRekey, UID: "04A1B2C3D4E5F6", BatchID: "20260302-001", StationID: "line1",
		FromVersion: 1, ToVersion: 2, MasterKCV: "A1B2C3", StartedAt: t0, Attempts: 1, State: IntentInProgress}
	v2ResetOp = Op{Kind: OpReset, UID: "04A1B2C3D4E5F7", BatchID: "20260302-001", StationID: "line-2",
		FromVersion: 2, MasterKCV: "A1B2C3", StartedAt: t0.Add(1500), Attempts: 3, State: IntentFailed,
		LastError: "change key 2: tag removed — Ø"}
	v2Reclaim = Reclaim{UID: "04A1B2C3D4E5F6", BatchID: "20260302-001", StationID: "line1", Seq: 1 << 40,
		KeyVersion: 255, At: t0.Add(-7)}
	v2Quarantine = Quarantine{UID: "04000000000000", StationID: "line1", Reason: "no binding for tag",
		At: t0, Count: 300}
)

func TestLifecycleRecordsStayReadable(t *testing.T) {
	for _, c := range []struct {
		file   string
		enc    []byte
		decode func([]byte) (any, error)
		want   any
	}{
		{"op_rekey_v2.bin", encodeOp(&v2RekeyOp), func(b []byte) (any, error) { return decodeOp(b) }, v2RekeyOp},
		{"op_reset_v2.bin", encodeOp(&v2ResetOp), func(b []byte) (any, error) { return decodeOp(b) }, v2ResetOp},
		{"reclaim_v2.bin", encodeReclaim(&v2Reclaim), func(b []byte) (any, error) { return decodeReclaim(b) }, v2Reclaim},
		{"quarantine_v2.bin", encodeQuarantine(&v2Quarantine), func(b []byte) (any, error) { return decodeQuarantine(b) }, v2Quarantine},
	} {
		want := golden(t, c.file, c.enc)
		if !bytes.Equal(c.enc, want) {
			t.Errorf("%s: encoder output changed:\n got %x\nwant %x", c.file, c.enc, want)
		}
		got, err := c.decode(want)
		if err != nil || got != c.want {
			t.Errorf("%s:\n got %+v (%v)\nwant %+v", c.file, got, err, c.want)
		}
	}
}
