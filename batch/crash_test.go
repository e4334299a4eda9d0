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

	"github.com/tagline-station/tagline/manifest"
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
			open[string(it.UID)] = true
		}
		bindings := 0
		for uid, kind := range acked {
			_, bound, err := s.Lookup(manifest.UID(uid))
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
				if err := s.BeginIntent(intentFor(manifest.UID(uid), "B")); err != nil {
					fmt.Println("intent:", err)
					os.Exit(3)
				}
				ack("intent", uid)
				if err := s.Complete(bindingFor(manifest.UID(uid))); err != nil {
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

const killedIntentEnv = "TAGLINE_BATCH_KILLED_INTENT_JOURNAL"

// A station killed between its intent and the end of the attempt (in the
// middle of a key change, say) records nothing more. The intent it leaves
// must say that the tag may hold new keys, and a later attempt that fails
// before writing must not remove it: the killed attempt may have written.
func TestKilledAttemptLeavesIntentThatMayHaveChangedKeys(t *testing.T) {
	if path := os.Getenv(killedIntentEnv); path != "" {
		s, err := Open(path, Options{StationID: "crash"})
		if err == nil {
			_, err = s.CreateBatch(Batch{ID: "B", SKU: "SKU", KeyVersion: 1})
		}
		if err == nil {
			err = s.BeginIntent(intentFor(uidN(7), "B"))
		}
		if err != nil {
			fmt.Println("child:", err)
			os.Exit(3)
		}
		fmt.Println("intent recorded")
		p, _ := os.FindProcess(os.Getpid())
		_ = p.Kill() // as if killed while changing the tag's keys
		select {}
	}
	path := filepath.Join(t.TempDir(), "journal.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestKilledAttemptLeavesIntentThatMayHaveChangedKeys$", "-test.count=1")
	cmd.Env = append(os.Environ(), killedIntentEnv+"="+path)
	out, err := cmd.Output()
	if err == nil || !strings.Contains(string(out), "intent recorded") {
		t.Fatalf("the child was not killed after its intent: %v\n%s", err, out)
	}
	s := openStore(t, path, Options{LockTimeout: 5 * time.Second})
	its, err := s.OpenIntents()
	if err != nil || len(its) != 1 {
		t.Fatalf("intents after the kill: %+v %v", its, err)
	}
	if it := its[0]; !it.KeysMayHaveChanged || it.State != IntentInProgress {
		t.Fatalf("the killed attempt's intent says the keys did not change: %+v", it)
	}
	// The restarted station tries again and fails before any write: the
	// intent stays, since the killed attempt may have written keys.
	if err := s.BeginIntent(intentFor(uidN(7), "B")); err != nil {
		t.Fatal(err)
	}
	if err := s.FailIntent(uidN(7), "authentication failed", KeysUntouched); err != nil {
		t.Fatal(err)
	}
	its, err = s.OpenIntents()
	if err != nil || len(its) != 1 || !its[0].KeysMayHaveChanged || its[0].State != IntentFailed || its[0].Attempts != 2 {
		t.Fatalf("after a clean failure of the second attempt: %+v %v", its, err)
	}
}
