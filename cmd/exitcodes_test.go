package cmd

import (
	"errors"
	"fmt"
	"testing"

	"github.com/tagline-station/tagline/apdu"
	"github.com/tagline-station/tagline/batch"
	"github.com/tagline-station/tagline/encoder"
	"github.com/tagline-station/tagline/ev2"
	"github.com/tagline-station/tagline/keys"
	"github.com/tagline-station/tagline/manifest"
	"github.com/tagline-station/tagline/qa"
	"github.com/tagline-station/tagline/reader"
	"github.com/tagline-station/tagline/sdm"
	"github.com/tagline-station/tagline/station"
	"github.com/tagline-station/tagline/syncer"
)

// sentinelExitCodes is every exported error value of the domain packages
// with the exit code it had when exitcodes.go still tested sentinels one by
// one; the kinds must keep each of them.
var sentinelExitCodes = []struct {
	name string
	err  error
	want int
}{
	{"batch.ErrLocked", batch.ErrLocked, ExitBusy},
	{"batch.ErrCorrupt", batch.ErrCorrupt, ExitJournal},
	{"batch.ErrForeign", batch.ErrForeign, ExitJournal},
	{"batch.ErrWrongStation", batch.ErrWrongStation, ExitJournal},
	{"batch.ErrFormat", batch.ErrFormat, ExitJournal},
	{"batch.ErrReadOnly", batch.ErrReadOnly, ExitJournal},
	{"batch.ErrClosed", batch.ErrClosed, ExitJournal},
	{"batch.ErrInvalid", batch.ErrInvalid, ExitUsage},
	{"batch.ErrNoBatch", batch.ErrNoBatch, ExitUsage},
	{"batch.ErrBatchExists", batch.ErrBatchExists, ExitUsage},
	{"batch.ErrBatchClosed", batch.ErrBatchClosed, ExitUsage},
	{"batch.ErrDuplicate", batch.ErrDuplicate, ExitTag},
	{"batch.DuplicateError", &batch.DuplicateError{UID: "04", BatchID: "b"}, ExitTag},
	{"batch.ErrIntentOpen", batch.ErrIntentOpen, ExitTag},
	{"batch.ErrNoIntent", batch.ErrNoIntent, ExitFailure},
	{"batch.ErrAckBeyond", batch.ErrAckBeyond, ExitFailure},

	{"encoder.ErrReadBack", encoder.ErrReadBack, ExitVerify},
	{"encoder.ErrForeignTag", encoder.ErrForeignTag, ExitTag},
	{"encoder.ErrWrongKey", encoder.ErrWrongKey, ExitTag},
	{"encoder.ErrAlreadyOurs", encoder.ErrAlreadyOurs, ExitTag},
	{"encoder.ErrOtherVersion", encoder.ErrOtherVersion, ExitTag},
	{"encoder.ErrHalfKeyed", encoder.ErrHalfKeyed, ExitTag},
	{"encoder.ErrNotNTAG424", encoder.ErrNotNTAG424, ExitTag},
	{"encoder.ErrUIDChanged", encoder.ErrUIDChanged, ExitTag},
	{"encoder.ErrJob", encoder.ErrJob, ExitFailure},
	{"encoder.ErrTimeout", encoder.ErrTimeout, ExitTag},
	{"encoder.ErrNoURL", encoder.ErrNoURL, ExitFailure},

	{"reader.ErrTagRemoved", reader.ErrTagRemoved, ExitTag},
	{"reader.ErrNoReader", reader.ErrNoReader, ExitTag},
	{"reader.ErrStackUnavailable", reader.ErrStackUnavailable, ExitTag},
	{"reader.RemovedError", reader.RemovedError(errors.New("card gone")), ExitTag},

	{"apdu.ErrAuthFailed", apdu.ErrAuthFailed, ExitTag},
	{"apdu.ErrAuthDelay", apdu.ErrAuthDelay, ExitTag},
	{"apdu.ErrIntegrity", apdu.ErrIntegrity, ExitTag},
	{"apdu.ErrPermission", apdu.ErrPermission, ExitTag},
	{"apdu.ErrLength", apdu.ErrLength, ExitTag},
	{"apdu.ErrTag", apdu.ErrTag, ExitTag},
	{"apdu.ErrMalformed", apdu.ErrMalformed, ExitTag},
	{"apdu.SWAuthError", apdu.SWAuthError, ExitTag},
	{"apdu.SWIntegrityError", apdu.SWIntegrityError, ExitTag},
	{"apdu.SWMemoryError", apdu.SWMemoryError, ExitTag},
	{"apdu.SWISOFileNotFound", apdu.SWISOFileNotFound, ExitTag},

	{"ev2.ErrAuthMismatch", ev2.ErrAuthMismatch, ExitFailure},

	{"sdm.ErrBadMAC", sdm.ErrBadMAC, ExitVerify},
	{"sdm.ErrBadPICCData", sdm.ErrBadPICCData, ExitVerify},
	{"sdm.ErrURLMismatch", sdm.ErrURLMismatch, ExitVerify},
	{"sdm.ErrURLField", sdm.ErrURLField, ExitVerify},
	{"sdm.ErrTemplate", sdm.ErrTemplate, ExitUsage},
	{"sdm.ErrSettings", sdm.ErrSettings, ExitFailure},

	{"keys.ErrMasterKey", keys.ErrMasterKey, ExitUsage},
	{"keys.ErrUID", keys.ErrUID, ExitFailure},
	{"keys.ErrDiversificationInput", keys.ErrDiversificationInput, ExitFailure},
	{"keys.ErrSecretMarshal", keys.ErrSecretMarshal, ExitFailure},

	{"qa.ErrConfig", qa.ErrConfig, ExitUsage},
	{"qa.ErrSampling", qa.ErrSampling, ExitUsage},
	{"qa.ErrEmptyBatch", qa.ErrEmptyBatch, ExitUsage},
	{"qa.ErrWrongMaster", qa.ErrWrongMaster, ExitUsage},
	{"qa.ErrState", qa.ErrState, ExitFailure},
	{"qa.ErrFinished", qa.ErrFinished, ExitFailure},
	{"qa.ErrInputLimit", qa.ErrInputLimit, ExitFailure},
	{"qa.ErrNoURL", qa.ErrNoURL, ExitFailure},

	{"syncer.ErrRejected", syncer.ErrRejected, ExitFailure},
	{"syncer.ErrBadAck", syncer.ErrBadAck, ExitFailure},
	{"syncer.ErrGaveUp", syncer.ErrGaveUp, ExitFailure},
	{"manifest.ErrChunk", manifest.ErrChunk, ExitFailure},
	{"manifest.ErrClockAhead", manifest.ErrClockAhead, ExitFailure},

	{"station.ErrBoundButBlank", station.ErrBoundButBlank, ExitTag},

	{"cmd.errConfig", errConfig, ExitUsage},
	{"cmd.configError", &configError{path: "c", line: 3, msg: "bad"}, ExitUsage},
	{"cmd.errTooLarge", errTooLarge, ExitFailure},
	{"cmd.errNoJournal", errNoJournal, ExitFailure},
}

func TestEverySentinelKeepsItsExitCode(t *testing.T) {
	for _, tc := range sentinelExitCodes {
		// Bare, wrapped with %w, and inside an encoder step as a tag
		// failure reaches the tally.
		for _, err := range []error{
			tc.err,
			fmt.Errorf("open x: %w", tc.err),
			&encoder.StepError{Step: encoder.StepAuth, Err: fmt.Errorf("a: %w", tc.err)},
			withHint(tc.err, "h"),
		} {
			if got := exitCode(err); got != tc.want {
				t.Errorf("%s: exitCode(%v) = %d, want %d", tc.name, err, got, tc.want)
			}
		}
	}
}

// An error that carries two classes gets the graver one's exit code,
// whichever of the two is wrapped first: journal over verification over
// tag over usage.
func TestMixedErrorsTakeTheGraverCode(t *testing.T) {
	for _, tc := range []struct {
		a, b error
		want int
	}{
		{apdu.ErrTag, batch.ErrCorrupt, ExitJournal},
		{batch.ErrInvalid, batch.ErrLocked, ExitBusy},
		{sdm.ErrBadMAC, batch.ErrForeign, ExitJournal},
		{batch.ErrNoBatch, encoder.ErrReadBack, ExitVerify},
		{reader.ErrTagRemoved, sdm.ErrBadMAC, ExitVerify},
		{keys.ErrMasterKey, apdu.ErrAuthFailed, ExitTag},
		{qa.ErrState, qa.ErrConfig, ExitUsage},
	} {
		for _, err := range []error{fmt.Errorf("%w: %w", tc.a, tc.b), fmt.Errorf("%w: %w", tc.b, tc.a)} {
			if got := exitCode(err); got != tc.want {
				t.Errorf("exitCode(%v) = %d, want %d", err, got, tc.want)
			}
		}
	}
}
