package apdu

import (
	"fmt"

	"github.com/tagline-station/tagline/internal/errkind"
)

// StatusWord is SW1 SW2 as one comparable value; it implements error.
type StatusWord uint16

// Status words (datasheet NT4H2421Gx section 10.2, tables 23 and 24;
// ISO/IEC 7816-4 section 5.6).
const (
	SWOK                  StatusWord = 0x9000
	SWNativeOK            StatusWord = 0x9100
	SWAdditionalFrame     StatusWord = 0x91AF
	SWIllegalCommand      StatusWord = 0x911C
	SWIntegrityError      StatusWord = 0x911E
	SWNoSuchKey           StatusWord = 0x9140
	SWLengthError         StatusWord = 0x917E
	SWPermissionDenied    StatusWord = 0x919D
	SWParameterError      StatusWord = 0x919E
	SWAuthDelay           StatusWord = 0x91AD
	SWAuthError           StatusWord = 0x91AE
	SWBoundaryError       StatusWord = 0x91BE
	SWCommandAborted      StatusWord = 0x91CA
	SWMemoryError         StatusWord = 0x91EE
	SWFileNotFound        StatusWord = 0x91F0
	SWISOWrongLength      StatusWord = 0x6700
	SWISOSecurityStatus   StatusWord = 0x6982
	SWISOConditions       StatusWord = 0x6985
	SWISOFileNotFound     StatusWord = 0x6A82
	SWISOWrongParams      StatusWord = 0x6A86
	SWISOWrongP1P2        StatusWord = 0x6B00
	SWISOInsNotSupported  StatusWord = 0x6D00
	SWISOClaNotSupported  StatusWord = 0x6E00
	SWISOMemoryFailure    StatusWord = 0x6581
	SWISOWrongLe          StatusWord = 0x6C00
	SWISOEndOfFile        StatusWord = 0x6282
	SWISOWrongDataLength  StatusWord = 0x6A87
	SWISOIncorrectData    StatusWord = 0x6A80
	SWISONoPreciseDiagnos StatusWord = 0x6F00
)

// Public error classes that callers branch on.
var (
	ErrAuthFailed = errkind.New(errkind.Tag, "authentication failed")
	ErrAuthDelay  = errkind.New(errkind.Tag, "tag refuses authentication for now (failed-authentication delay)")
	ErrIntegrity  = errkind.New(errkind.Tag, "integrity error")
	ErrPermission = errkind.New(errkind.Tag, "permission denied")
	ErrLength     = errkind.New(errkind.Tag, "length or boundary error")
	ErrTag        = errkind.New(errkind.Tag, "tag error")
)

// OK reports the two success words.
func (s StatusWord) OK() bool { return s == SWOK || s == SWNativeOK }

// Class maps the word to one of the public classes.
func (s StatusWord) Class() error {
	switch s {
	case SWAuthError, SWNoSuchKey:
		return ErrAuthFailed
	case SWAuthDelay:
		return ErrAuthDelay
	case SWIntegrityError:
		return ErrIntegrity
	case SWPermissionDenied, SWISOSecurityStatus, SWISOConditions:
		return ErrPermission
	case SWLengthError, SWBoundaryError, SWISOWrongLength, SWISOWrongDataLength, SWISOEndOfFile, SWISOWrongLe:
		return ErrLength
	}
	return ErrTag
}

func (s StatusWord) Error() string {
	name, ok := names[s]
	if !ok {
		name = "unknown status"
	}
	return fmt.Sprintf("tag answered %04X (%s)", uint16(s), name)
}

// Is lets errors.Is(err, apdu.ErrAuthFailed) match a wrapped status word.
func (s StatusWord) Is(target error) bool {
	if t, ok := target.(StatusWord); ok {
		return t == s
	}
	return target == s.Class()
}

// Kind marks every status word as a tag error: the tag refused or failed
// the command.
func (s StatusWord) Kind() errkind.Kind { return errkind.Tag }

// Bytes returns SW1 SW2.
func (s StatusWord) Bytes() []byte { return []byte{byte(s >> 8), byte(s)} }

var names = map[StatusWord]string{
	SWOK: "ok", SWNativeOK: "ok", SWAdditionalFrame: "additional frame",
	SWIllegalCommand: "illegal command", SWIntegrityError: "integrity error",
	SWNoSuchKey: "no such key", SWLengthError: "length error",
	SWPermissionDenied: "permission denied", SWParameterError: "parameter error",
	SWAuthDelay: "authentication delay", SWAuthError: "authentication error",
	SWBoundaryError: "boundary error", SWCommandAborted: "command aborted",
	SWMemoryError: "memory error", SWFileNotFound: "file not found",
	SWISOWrongLength: "wrong length", SWISOSecurityStatus: "security status not satisfied",
	SWISOConditions: "conditions of use not satisfied", SWISOFileNotFound: "file not found",
	SWISOWrongParams: "wrong parameters", SWISOWrongP1P2: "wrong p1/p2",
	SWISOInsNotSupported: "instruction not supported", SWISOClaNotSupported: "class not supported",
	SWISOMemoryFailure: "memory failure", SWISOWrongLe: "wrong le", SWISOEndOfFile: "end of file",
	SWISOWrongDataLength: "wrong data length", SWISOIncorrectData: "incorrect data",
	SWISONoPreciseDiagnos: "no precise diagnosis",
}
