//go:build !linux

package vpcd

import "net"

// quickAck is a no-op where TCP_QUICKACK does not exist; there each
// exchange may wait for a delayed ACK (see quickack_linux.go).
func quickAck(net.Conn) {}
