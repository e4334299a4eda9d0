// Package station is the encoding station's loop: it waits for a tag on a
// reader, personalises it with the encoder, and journals the result, one
// lane per reader, all lanes sharing one journal.
//
// Invariants:
//   - The journal's intent for a tag is durable before the encoder writes
//     anything to it (encoder.Job.BeforeWrite); a binding is written only
//     after the tag was read back and its SUN message verified.
//   - A failure before the first write of a tag's first attempt removes the
//     intent; any other failure, and a station stopped mid-attempt, leaves
//     it open, so the same tag presented again is finished, not forgotten.
//   - A batch is encoded only with the key derivation it was created with
//     (New refuses a Deriver of another scheme).
//   - Tally (tally.go) is the one count of a run for the screen, the
//     closing summary and the exit code: each tag judged by its last
//     attempt, the pace over the last results of any outcome. It is a
//     value; a copy never changes when the original is added to.
//   - Every failed or duplicate result is counted once in the batch's
//     journal counters (by FailIntent, BeginIntent's refusal, or
//     CountOutcome for tags refused before an intent), so batch show
//     agrees with the screen.
//   - Every result carries a plain-words reason and what the operator
//     should do; none carries key bytes. A refused tag's reason comes from
//     the journal where it knows the UID: our own tag of another batch is a
//     duplicate, not a foreign tag; only a tag this journal bound with
//     another master key points at the master key file; a blank tag whose
//     UID is bound is not done but a cloned UID or a tag reset elsewhere.
//   - With Config.Genuine, a chip whose NXP originality signature does not
//     verify with those keys fails "not a genuine NXP chip" before any key
//     is tried or intent opened, is left untouched, and is counted by
//     CountOutcome like any tag refused before an intent. cmd trusts NXP's
//     key, and the simulator's test key only on the sim reader or in a
//     test batch.
//   - A card that misbehaves (malformed answers, error status words, a bad
//     MAC, no answer within Config.ExchangeTimeout, not an NTAG 424 DNA)
//     fails that tag only; the lane goes on with the next.
//   - Life runs tagline rekey and tagline reset: a tag is touched only
//     when the journal binds it (in the run's batch, with this master key)
//     and records no reset since; the journal's operation (batch.Op) is
//     durable before the first change and its outcome (a new binding with
//     the new key version, or a reclaim) is written after the read-back. A
//     tag the journal does not know is quarantined by reset, untouched. A
//     tag reclaimed by reset is encoded again as a re-encode.
//   - Time comes from Config.Now and randomness from Config.Rand, so a lane
//     replays byte for byte against a recorded transcript.
//
// # The runtime
//
// A Runtime (NewRuntime, RunConfig) owns one run of the station: the
// lanes, their Gate, the journal's hold, the batch target and the
// background sync; cmd only turns flags and config into a RunConfig and
// shows the events. Its invariants:
//   - A tag starts at one point only, Gate.enter, under the gate's lock:
//     after the lane's wait returned a tag and before the encoder touches
//     it. Pause (the operator's, a stop, a hold) takes the same lock, so no
//     tag starts once Pause has returned; it also cancels the lanes' waits
//     for a tag, and a tag that arrives anyway is closed untouched and taken
//     up after resume.
//   - A commit the file system refuses (batch.ErrWriteFailed: a full disk,
//     an I/O error) closes the gate for every lane before that tag's result
//     is reported (EvHold, once per hold, with a HoldError that says what to
//     do). Gate.Resume then first probes the journal (batch.Store.Probe) and
//     keeps the hold while it still refuses; RunConfig.HoldRetry re-probes
//     by itself for a station without a screen. A PASS is reported only
//     after its binding is durable, and a tag keyed before its binding was
//     refused keeps its open intent, so it is finished when presented again:
//     no PASS is lost.
//   - The batch target is counted with the tags in progress: no tag starts
//     once done + in progress reaches it (unless OverTarget, or a
//     re-encode), and the run stops; tags in progress that fail let the
//     lanes go on. NewRuntime refuses a batch already at its target
//     (ErrTargetReached).
//   - A stop (ctx cancelled: Ctrl-C, SIGTERM, SIGHUP; Stop; the count or
//     target reached) closes the gate, lets tags in progress finish (up to
//     Grace), then cancels the lanes. A reader that does not give up a wait
//     within StallAfter is reported (EvStalled) and, once the lanes are
//     cancelled, left behind, so Run returns within StallAfter plus the
//     sync's Final bound when no tag is in progress.
//   - The sync (SyncConfig) runs beside the lanes and never holds them: it
//     is kicked after each PASS and pushes Linger (100 ms) later, so one
//     request carries the tags all lanes finished meanwhile, through
//     syncer.Run one attempt at a time; it backs off doubling from MinBackoff to MaxBackoff while the
//     backend cannot be reached (new tags do not shorten the wait), and
//     reports backlog, last acknowledgement and offline as EvSync on each
//     change. The journal's cursor moves only on the backend's ack
//     (syncer's invariant 1); what is left when the run ends is sent by the
//     next run or by tagline sync.
//   - The runtime's events reach RunConfig.OnEvent from one goroutine, in
//     the order it saw them; OnEvent may block, which holds the lanes.
package station
