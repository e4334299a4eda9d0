// Package life holds the end-to-end test of a tag's whole life: factory,
// personalisation, phone taps verified by sdm and by tagline serve, key
// rotation during a rollout, reclaim, and factory again, through the real
// station, journal, sync and backend with a simulated tag. It has no code
// of its own.
package life
