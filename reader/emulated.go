package reader

// Emulated is the tag end of a simulated exchange. Emulators of reader
// stacks (the vpcd card client, the PN532 emulator) carry APDUs to it, so the
// same simulated tag can sit behind every real stack. reader/sim implements it.
type Emulated interface {
	// UID is the 7-byte anticollision UID.
	UID() []byte
	// ATS is the full answer to select including its length byte TL,
	// 06 77 77 71 02 80 for an NTAG 424 DNA.
	ATS() []byte
	// Process answers one command APDU with data || SW1 SW2. It never
	// fails: unknown commands get an error status word, as a tag would.
	Process(capdu []byte) []byte
}
