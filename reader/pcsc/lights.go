package pcsc

import "errors"

// ErrNoIndicator is Indicate's answer for a reader that has refused the
// lights command: it is not asked again in this run. It is never a tag's
// failure.
var ErrNoIndicator = errors.New("pcsc: the reader has no lights or buzzer tagline can drive")

// The LEDs and buzzer control pseudo-APDU of the ACS ACR122U and its
// family (ACR122U API, "LEDs and buzzer control"): FF 00 40 P2 04 T1 T2 N L.
// P2: bit 0/1 final red/green state, bits 2/3 their update masks, bits 4/5
// initial blinking states of red/green, bits 6/7 blinking masks. T1 and T2
// are the on and off times in 100 ms, N the repetitions, L which of them
// sounds the buzzer (01: during T1). With no update mask set the LEDs go
// back to what they showed before.
var (
	// indicateFail blinks the red LED twice, 300 ms on and 200 ms off,
	// with the buzzer while it is on.
	indicateFail = []byte{0xFF, 0x00, 0x40, 0x50, 0x04, 0x03, 0x02, 0x02, 0x01}
	// indicatePass lights the green LED once for 200 ms, silently.
	indicatePass = []byte{0xFF, 0x00, 0x40, 0xA0, 0x04, 0x02, 0x01, 0x01, 0x00}
)
