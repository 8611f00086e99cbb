//go:build unix

package web

import "syscall"

// smallSocketBuffers keeps the kernel from buffering most of a download,
// so that the server's writes wait for the reader (net.ListenConfig and
// net.Dialer Control).
func smallSocketBuffers(_, _ string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		for _, opt := range []int{syscall.SO_SNDBUF, syscall.SO_RCVBUF} {
			if e := syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, opt, 32<<10); e != nil {
				serr = e
			}
		}
	})
	if err != nil {
		return err
	}
	return serr
}
