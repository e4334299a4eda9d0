package libnfc

import "time"

// Defaults for Options.
const (
	// DefaultPollInterval is the pause between two selection attempts in
	// WaitTag and two presence checks in WaitRemoved.
	DefaultPollInterval = 100 * time.Millisecond
	// DefaultTransmitTimeout bounds one APDU round trip when the ATS does
	// not say otherwise.
	DefaultTransmitTimeout = 500 * time.Millisecond
	// MaxTransmitTimeout caps the round-trip bound derived from the ATS.
	MaxTransmitTimeout = 5 * time.Second
)

// MaxCommandAPDU is the longest command APDU that fits one PN53x
// InDataExchange (262 data bytes behind the command code and target byte).
const MaxCommandAPDU = 262

// Options tune a Device. The zero value selects the defaults.
type Options struct {
	// PollInterval is the pause between polls in WaitTag and WaitRemoved
	// (libnfc has no event API). 0 means DefaultPollInterval.
	PollInterval time.Duration
	// TransmitTimeout bounds one APDU round trip. 0 derives it from the
	// frame wait time in the tag's ATS: 250 ms + 8 × FWT, at least
	// DefaultTransmitTimeout and at most MaxTransmitTimeout.
	TransmitTimeout time.Duration
}

func (o Options) withDefaults() Options {
	if o.PollInterval <= 0 {
		o.PollInterval = DefaultPollInterval
	}
	return o
}

// transmitTimeout derives the host-side bound of one exchange from the ATS
// (including TL): ISO/IEC 14443-4 FWT = 256·16/fc · 2^FWI, FWI from the high
// nibble of TB(1), 4 when absent.
func transmitTimeout(ats []byte) time.Duration {
	fwi := 4
	if len(ats) >= 2 {
		t0, i := ats[1], 2
		if t0&0x10 != 0 { // TA(1)
			i++
		}
		if t0&0x20 != 0 && i < len(ats) { // TB(1)
			if v := int(ats[i] >> 4); v < 15 {
				fwi = v
			}
		}
	}
	fwt := time.Duration(302065<<fwi) * time.Nanosecond // 4096/13.56 MHz = 302.065 µs
	d := 250*time.Millisecond + 8*fwt
	return min(max(d, DefaultTransmitTimeout), MaxTransmitTimeout)
}
