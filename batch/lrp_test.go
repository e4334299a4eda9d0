package batch

import (
	"testing"
	"time"
)

// The LRP flag survives the journal, and a bit no writer sets is refused.
func TestBatchLRPFlagRoundTrip(t *testing.T) {
	b := Batch{ID: "b-lrp", SKU: "S", Target: 1, Template: "https://b.example/t?p={picc}&m={mac}", KeyVersion: 1,
		KDF: KDFTagline, Status: StatusOpen, CreatedAt: time.Unix(1700000000, 0).UTC(), LRP: true}
	got, err := decodeBatch(encodeBatch(&b))
	if err != nil || !got.LRP || got.Test {
		t.Fatalf("decoded %+v, %v", got, err)
	}
	b.LRP = false
	if got, err := decodeBatch(encodeBatch(&b)); err != nil || got.LRP {
		t.Fatalf("decoded %+v, %v", got, err)
	}
}
