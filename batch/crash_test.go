package batch

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

const crashEnv = "TAGLINE_BATCH_CRASH_JOURNAL"

// A station killed at an arbitrary moment, with commits in flight, must
// leave a healthy journal in which everything it was told is durable is
// there: every acknowledged binding, and for every acknowledged intent
// either the intent or its binding. The child process prints each
// acknowledgement after the call returns and then kills itself without
// closing anything.
func TestCrashKeepsAcknowledgedWork(t *testing.T) {
	if path := os.Getenv(crashEnv); path != "" {
		crashChild(path)
		return
	}
	path := filepath.Join(t.TempDir(), "journal.db")
	for round := range 3 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashKeepsAcknowledgedWork$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashEnv+"="+path, fmt.Sprintf("TAGLINE_BATCH_CRASH_ROUND=%d", round))
		var out bytes.Buffer
		cmd.Stdout = &out
		cmd.Stderr = os.Stderr
		err := cmd.Run()
		if err == nil {
			t.Fatalf("round %d: the child was not killed:\n%s", round, out.String())
		}

		acked := map[string]string{}
		sc := bufio.NewScanner(&out)
		for sc.Scan() {
			kind, uid, ok := strings.Cut(sc.Text(), " ")
			if ok && (kind == "intent" || kind == "binding") && acked[uid] != "binding" {
				acked[uid] = kind
			}
		}
		if len(acked) == 0 {
			t.Fatalf("round %d: the child acknowledged nothing:\n%s", round, out.String())
		}

		s, err := Open(path, Options{LockTimeout: 5 * time.Second})
		if err != nil {
			t.Fatalf("round %d: reopening after the crash: %v", round, err)
		}
		open := map[string]bool{}
		its, err := s.OpenIntents()
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range its {
			open[it.UID] = true
		}
		bindings := 0
		for uid, kind := range acked {
			_, bound, err := s.Lookup(uid)
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case kind == "binding" && !bound:
				t.Errorf("round %d: acknowledged binding of %s is gone", round, uid)
			case kind == "intent" && !bound && !open[uid]:
				t.Errorf("round %d: acknowledged intent of %s is gone", round, uid)
			}
			if kind == "binding" {
				bindings++
			}
		}
		rep, err := s.Check()
		if err != nil || !rep.OK() {
			t.Fatalf("round %d: journal after the crash: %v %v", round, rep.Problems, err)
		}
		t.Logf("round %d: %d acknowledged bindings, %d tags in flight at the kill, %d open intents", round, bindings, len(acked)-bindings, len(its))
		s.Close()
	}
}

func crashChild(path string) {
	s, err := Open(path, Options{StationID: "crash"})
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(3)
	}
	round := os.Getenv("TAGLINE_BATCH_CRASH_ROUND")
	if _, err := s.GetBatch("B"); err != nil {
		if _, err := s.CreateBatch(Batch{ID: "B", SKU: "SKU", KeyVersion: 1}); err != nil {
			fmt.Println("batch:", err)
			os.Exit(3)
		}
	}
	var mu sync.Mutex
	ack := func(kind, uid string) {
		mu.Lock()
		fmt.Fprintf(os.Stdout, "%s %s\n", kind, uid)
		mu.Unlock()
	}
	for w := range 4 {
		go func() {
			for i := 0; ; i++ {
				uid := fmt.Sprintf("04%s%d%010X", round, w, i)
				if err := s.BeginIntent(intentFor(uid, "B")); err != nil {
					fmt.Println("intent:", err)
					os.Exit(3)
				}
				ack("intent", uid)
				if err := s.Complete(bindingFor(uid)); err != nil {
					fmt.Println("complete:", err)
					os.Exit(3)
				}
				ack("binding", uid)
			}
		}()
	}
	time.Sleep(150 * time.Millisecond)
	p, _ := os.FindProcess(os.Getpid())
	_ = p.Kill()
	select {}
}
