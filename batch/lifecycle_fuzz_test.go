package batch

import "testing"

// Lifecycle records: whatever the bytes, decoding returns a record or an
// error, never a panic; a record that decodes re-encodes to bytes that
// decode to the same record, and no single-bit change of it decodes.
// Seeds: f.Add below and testdata/fuzz/FuzzDecodeLifecycle.
func FuzzDecodeLifecycle(f *testing.F) {
	f.Add(encodeOp(&Op{Kind: OpRekey, UID: "04A1B2C3D4E5F6", BatchID: "b1", StationID: "line-1", FromVersion: 1, ToVersion: 2,
		MasterKCV: "A1B2C3", StartedAt: t0, Attempts: 1, State: IntentInProgress}))
	f.Add(encodeOp(&Op{Kind: OpReset, UID: "04A1B2C3D4E5F6", BatchID: "b1", StationID: "line-1", FromVersion: 2,
		MasterKCV: "A1B2C3", StartedAt: t0, Attempts: 3, State: IntentFailed, LastError: "change key 2: tag removed"}))
	f.Add(encodeReclaim(&Reclaim{UID: "04A1B2C3D4E5F6", BatchID: "b1", StationID: "line-1", Seq: 7, KeyVersion: 2, At: t0}))
	f.Add(encodeQuarantine(&Quarantine{UID: "04A1B2C3D4E5F6", StationID: "line-1", Reason: "not bound", At: t0, Count: 2}))
	f.Fuzz(func(t *testing.T, data []byte) {
		if op, err := decodeOp(data); err == nil {
			if op.Kind != OpRekey && op.Kind != OpReset || op.State != IntentInProgress && op.State != IntentFailed {
				t.Fatalf("operation decoded as %+v", op)
			}
			enc := encodeOp(&op)
			if again, err := decodeOp(enc); err != nil || again != op {
				t.Fatalf("operation does not round-trip: %+v -> %+v %v", op, again, err)
			}
			flipped(t, enc, func(d []byte) error { _, err := decodeOp(d); return err })
		}
		if r, err := decodeReclaim(data); err == nil {
			enc := encodeReclaim(&r)
			if again, err := decodeReclaim(enc); err != nil || again != r {
				t.Fatalf("reclaim does not round-trip: %+v -> %+v %v", r, again, err)
			}
			flipped(t, enc, func(d []byte) error { _, err := decodeReclaim(d); return err })
		}
		if q, err := decodeQuarantine(data); err == nil {
			enc := encodeQuarantine(&q)
			if again, err := decodeQuarantine(enc); err != nil || again != q {
				t.Fatalf("quarantine does not round-trip: %+v -> %+v %v", q, again, err)
			}
			flipped(t, enc, func(d []byte) error { _, err := decodeQuarantine(d); return err })
		}
	})
}
