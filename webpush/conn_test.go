package webpush

import (
	"bytes"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// TestCoalescingConn: every Write arrives whole and in order, from
// concurrent writers; a writer held by the pending bound goes on as the
// peer reads; after the peer is gone, Writes fail; Close ends a writer
// waiting for room and makes Writes fail.
func TestCoalescingConn(t *testing.T) {
	a, b := net.Pipe()
	c := newCoalescingConn(a)
	const writers, each = 8, 200
	got := make(chan []byte)
	go func() {
		all, _ := io.ReadAll(b)
		got <- all
	}()
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				msg := bytes.Repeat([]byte{byte('a' + w)}, 1+(i*37)%3000)
				msg[len(msg)-1] = '\n'
				if _, err := c.Write(msg); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	// Let the flusher finish, then end the stream.
	deadline := time.Now().Add(5 * time.Second)
	for {
		c.mu.Lock()
		empty := len(c.buf) == 0
		c.mu.Unlock()
		if empty || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	time.Sleep(10 * time.Millisecond)
	c.Close()
	all := <-got
	counts := map[byte]int{}
	for _, line := range bytes.Split(bytes.TrimSuffix(all, []byte("\n")), []byte("\n")) {
		if len(line) > 0 && bytes.Count(line, line[:1]) != len(line) {
			t.Fatalf("a Write was split or interleaved: %q…", line[:min(len(line), 40)])
		}
		if len(line) > 0 {
			counts[line[0]]++
		} else {
			counts[0]++ // 1-byte messages are a lone newline
		}
	}
	total := 0
	for _, n := range counts {
		total += n
	}
	if total != writers*each {
		t.Fatalf("%d writes arrived, want %d", total, writers*each)
	}
	if _, err := c.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Write after Close: %v", err)
	}

	// The peer stops reading: a writer beyond the bound waits, and Close
	// releases it with an error.
	a, b = net.Pipe()
	c = newCoalescingConn(a)
	done := make(chan error, 1)
	go func() {
		for {
			if _, err := c.Write(make([]byte, 16<<10)); err != nil {
				done <- err
				return
			}
		}
	}()
	select {
	case err := <-done:
		t.Fatalf("writes not held back: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
	c.Close()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("no error after Close")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not release the waiting writer")
	}
	b.Close()

	// The peer goes away: the write error comes back on a later Write.
	a, b = net.Pipe()
	c = newCoalescingConn(a)
	b.Close()
	var err error
	for i := 0; i < 1000 && err == nil; i++ {
		_, err = c.Write([]byte("x"))
		time.Sleep(time.Millisecond)
	}
	if err == nil {
		t.Fatal("writes to a closed peer kept succeeding")
	}
	c.Close()
}
