package webpush

import (
	"net"
	"sync"
)

// maxPendingWrite bounds the bytes a coalescingConn holds: beyond it, a
// Write waits for the socket (the peer's pace still limits ours).
const maxPendingWrite = 64 << 10

// coalescingConn is the TCP connection under the TLS of NewHTTPClient's
// connections. Go's HTTP/2 client flushes every frame it writes: a push
// is a HEADERS and a DATA flush, two TLS records, each its own write(2),
// and as many wake-ups of the push service reading them. Here a Write
// only appends to a buffer and wakes a flusher goroutine, which writes
// everything pending in one system call when it runs: a push's frames,
// and those of the other pushes written meanwhile, leave together. No
// timer delays anything (unlike Nagle's algorithm): the flusher runs as
// soon as a processor is free, at the latest when the writer waits for
// its answer.
//
// A failed write is reported by the Writes after it (the HTTP/2 client
// then drops the connection; its requests fail as on any connection lost
// mid-flight). Close drops what was not written yet.
type coalescingConn struct {
	net.Conn
	mu    sync.Mutex
	space sync.Cond // signalled when the flusher took the buffer, or on error
	buf   []byte    // bytes to write, in order
	spare []byte    // the buffer the flusher last wrote, for reuse
	err   error     // sticky: the first write error, or net.ErrClosed
	kick  chan struct{}
	done  chan struct{}
	once  sync.Once
}

func newCoalescingConn(c net.Conn) *coalescingConn {
	cc := &coalescingConn{Conn: c, kick: make(chan struct{}, 1), done: make(chan struct{})}
	cc.space.L = &cc.mu
	go cc.flush()
	return cc
}

func (c *coalescingConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	for c.err == nil && len(c.buf) > 0 && len(c.buf)+len(p) > maxPendingWrite {
		c.space.Wait()
	}
	if c.err != nil {
		err := c.err
		c.mu.Unlock()
		return 0, err
	}
	wake := len(c.buf) == 0
	c.buf = append(c.buf, p...)
	c.mu.Unlock()
	if wake {
		select {
		case c.kick <- struct{}{}:
		default: // already woken
		}
	}
	return len(p), nil
}

// flush writes the buffer whenever there is one, until Close.
func (c *coalescingConn) flush() {
	for {
		select {
		case <-c.kick:
		case <-c.done:
			return
		}
		c.mu.Lock()
		for len(c.buf) > 0 && c.err == nil {
			out := c.buf
			c.buf = c.spare[:0]
			c.mu.Unlock()
			_, err := c.Conn.Write(out)
			c.mu.Lock()
			c.spare = out[:0]
			if err != nil && c.err == nil {
				c.err = err
			}
			c.space.Broadcast()
		}
		c.mu.Unlock()
	}
}

func (c *coalescingConn) Close() error {
	c.once.Do(func() { close(c.done) })
	c.mu.Lock()
	if c.err == nil {
		c.err = net.ErrClosed
	}
	c.space.Broadcast()
	c.mu.Unlock()
	return c.Conn.Close()
}
