package pgstore_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/tagline-station/tagline/serve/store"
	"github.com/tagline-station/tagline/serve/store/pgstore"
)

// The first journal to claim a station keeps it, also when many claim it
// at once; the same journal claims it again freely, another gets
// ErrOtherJournal and the holder.
func TestClaimJournal(t *testing.T) {
	ctx := context.Background()
	pool := newPool(t, "claim")
	st, err := pgstore.NewFromPool(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	ids := []string{"00000000000000000000000000000001", "00000000000000000000000000000002", "00000000000000000000000000000003"}
	var wg sync.WaitGroup
	won := make(chan string, len(ids))
	for _, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := st.ClaimJournal(ctx, "line-1", id); err == nil {
				won <- id
			} else if !errors.Is(err, store.ErrOtherJournal) {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	close(won)
	var winners []string
	for id := range won {
		winners = append(winners, id)
	}
	if len(winners) != 1 {
		t.Fatalf("%d journals hold the station: %v", len(winners), winners)
	}
	if _, err := st.ClaimJournal(ctx, "line-1", winners[0]); err != nil {
		t.Errorf("the holder again: %v", err)
	}
	for _, id := range ids {
		if id == winners[0] {
			continue
		}
		if owner, err := st.ClaimJournal(ctx, "line-1", id); !errors.Is(err, store.ErrOtherJournal) || owner != winners[0] {
			t.Errorf("%s: %s %v", id, owner, err)
		}
	}
	if _, err := st.ClaimJournal(ctx, "line-2", ids[1]); err != nil {
		t.Errorf("another station: %v", err)
	}
}
