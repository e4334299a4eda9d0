// Package conformance runs every published vector in testdata/vectors
// through tagline's public APIs, from the reader's side (keys, lrp, ev2,
// sdm, encoder). The simulated tag's side of the same vectors is tested in
// reader/sim. It has no code of its own outside its tests.
//
// Invariant: each vector is dispatched on its algorithm; a vector with an
// algorithm this test does not know fails the run, so a vector added to the
// file cannot go unexercised.
package conformance
