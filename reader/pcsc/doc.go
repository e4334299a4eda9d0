// Package pcsc binds tagline to PC/SC readers through pcscd and
// github.com/ebfe/scard (libpcsclite, cgo). It implements reader.Reader,
// reader.Tag and reader.Card.
//
//	st, err := pcsc.Open(ctx)        // errors.Is(err, reader.ErrStackUnavailable) without pcscd
//	infos, err := st.List()          // readers and whether a tag is present
//	r, err := st.Reader(infos[0].Name)
//	tag, err := r.WaitTag(ctx)       // blocks on SCardGetStatusChange
//	rsp, err := tag.Transmit(ctx, capdu)
//	tag.Close()
//	err = r.WaitRemoved(ctx)
//
// Built without cgo (CGO_ENABLED=0) the package still compiles, with the
// same API, but Open always fails with an error wrapping
// reader.ErrStackUnavailable.
//
// Invariants:
//   - Tag events come from SCardGetStatusChange with an infinite timeout,
//     never from polling. WaitTag also watches the \\?PnP?\Notification
//     pseudo-reader, so it keeps waiting across the reader being unplugged
//     and plugged in again. When ctx ends (or the Reader is closed) the wait
//     is ended with SCardCancel on the context that waits.
//   - Every wait and every Tag has a PC/SC context of its own: pcsc-lite
//     holds a context's lock for the whole of a blocking call, so sharing
//     one would serialise a WaitRemoved with a Transmit. The Stack's own
//     context serves List, Reader and Info only, and is re-established once
//     when pcscd was restarted.
//   - Transmit on a Tag is one exchange at a time. A Transmit whose ctx ends
//     first returns ctx.Err() at once; the exchange still completes in the
//     background and its response is dropped, so whether the tag executed
//     the command is unknown, as with a removed tag.
//   - Errors that mean the tag or its reader went away (SCARD_W_REMOVED_CARD,
//     SCARD_W_RESET_CARD, SCARD_E_NO_SMARTCARD, SCARD_E_READER_UNAVAILABLE,
//     SCARD_E_UNKNOWN_READER, SCARD_W_UNPOWERED_CARD, SCARD_W_UNRESPONSIVE_CARD)
//     are returned wrapped by reader.RemovedError. A failed exchange
//     (SCARD_E_NOT_TRANSACTED, SCARD_F_COMM_ERROR, or a "successful" one
//     with fewer than the two status bytes, which is how vpcd reports a card
//     that left before answering) is reported as removed once pcscd
//     confirms the card left the reader (within 2 s); otherwise it is an
//     ordinary error. Transmit never returns a response shorter than 2
//     bytes. pcscd going away during an exchange
//     yields an error matching both reader.ErrTagRemoved and
//     reader.ErrStackUnavailable.
//   - Tags are connected shared (SCARD_SHARE_SHARED) unless the Exclusive
//     option is given, with protocol T=0 or T=1 (vpcd and contactless readers
//     give T=1). Close leaves the card as it is (SCARD_LEAVE_CARD).
//   - The UID comes from the PC/SC pseudo-APDU GET DATA (FF CA 00 00 00) when
//     the reader answers it with 9000; otherwise UID is empty and callers ask
//     the tag. vpcd passes the pseudo-APDU to the card, so simulated tags
//     behind vpcd see it as their first command and have an empty UID here.
//   - Readers implement reader.Indicator: Indicate sends the ACS ACR122U
//     LEDs-and-buzzer pseudo-APDU (FF 00 40 …; red blinking with the buzzer
//     after a failure, green after a pass) through a shared connection when
//     a card is in the reader, else as the CCID escape command
//     (SCardControl, SCARD_CTL_CODE(3500)) on a direct connection. Its own
//     PC/SC context, at most 2 s. A reader that refuses it once (any status
//     word but 90 00, which is what a tag behind vpcd answers, or an
//     escape command refused, as libccid does by default and vpcd always)
//     is left alone for the rest of the run: Indicate returns
//     ErrNoIndicator without sending anything. A card that left or pcscd
//     going away is not a refusal. Indicate's errors are never a tag's.
//   - No key material passes through this package other than inside APDUs.
package pcsc
