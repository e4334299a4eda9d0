package vpcd

import (
	"net"
	"syscall"
)

// quickAck asks Linux to acknowledge received data at once instead of
// delaying the ACK (TCP_QUICKACK, which the kernel clears again by itself,
// so it is set before every read). The vpcd driver sends a message's length
// and its payload in two writes without TCP_NODELAY: Nagle's algorithm
// holds the payload back until the length is acknowledged, and a delayed
// ACK would cost every exchange about 40 ms.
func quickAck(c net.Conn) {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Control(func(fd uintptr) {
		_ = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_QUICKACK, 1)
	})
}
