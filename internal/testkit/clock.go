// Package testkit holds what the tests of several packages set up alike.
package testkit

import (
	"sync"
	"time"
)

// Clock is a fixed clock that tests move: safe to read from the server's
// goroutines while the test sets or advances it.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock is a clock stopped at t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now is the clock's time.
func (c *Clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

// Set stops the clock at t.
func (c *Clock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

// Advance moves the clock by d (back when d is negative).
func (c *Clock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }
