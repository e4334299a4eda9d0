// Package errkind marks errors with the kind of failure they report, so
// that the command line turns kinds into exit codes instead of knowing
// every package's sentinels.
//
// A package defines its sentinels with New and callers keep comparing them
// with errors.Is; an error type of its own says its kind with a Kind method.
package errkind

// Kind is what an error asks of the person who meets it.
type Kind int

// The kinds in increasing gravity: an error that carries several (wrapping
// a tag error and a journal error, say) is of the gravest.
const (
	None         Kind = iota // not marked: any other failure
	Network                  // a remote could not be reached or refused; nothing local is wrong
	Usage                    // bad flags, arguments, configuration, master key or template
	Tag                      // a tag or reader failed; another tag may work
	Verification             // a SUN message or a QA check did not verify
	Busy                     // the journal is held by another process; try again later
	Journal                  // the journal cannot be used: corrupt, foreign, newer, closed
)

var names = [...]string{"none", "network", "usage", "tag", "verification", "busy", "journal"}

func (k Kind) String() string {
	if k < 0 || int(k) >= len(names) {
		return "unknown"
	}
	return names[k]
}

// kinded is an error that knows its kind.
type kinded interface{ Kind() Kind }

// sentinel is a fixed error of one kind; a pointer, so each New is its own
// value for errors.Is.
type sentinel struct {
	kind Kind
	msg  string
}

func (e *sentinel) Error() string { return e.msg }
func (e *sentinel) Kind() Kind    { return e.kind }

// New returns a sentinel error of kind k with text msg.
func New(k Kind, msg string) error { return &sentinel{kind: k, msg: msg} }

// Of returns the gravest kind found anywhere in err's tree (through
// Unwrap() error and Unwrap() []error), or None. Taking the gravest rather
// than the first keeps the answer independent of wrapping order.
func Of(err error) Kind {
	k := None
	for _, e := range flatten(err, nil) {
		if ke, ok := e.(kinded); ok && ke.Kind() > k {
			k = ke.Kind()
		}
	}
	return k
}

// flatten appends err and everything it wraps to dst.
func flatten(err error, dst []error) []error {
	for err != nil {
		dst = append(dst, err)
		switch u := err.(type) {
		case interface{ Unwrap() error }:
			err = u.Unwrap()
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				dst = flatten(e, dst)
			}
			return dst
		default:
			return dst
		}
	}
	return dst
}
