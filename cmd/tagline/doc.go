// Command tagline runs the NTAG 424 DNA encoding station.
//
// Invariant: main only hands its arguments and streams to cmd.Execute and
// exits with the code it returns; everything else lives in package cmd.
package main
