package store

import (
	"errors"
	"sync"
)

// ErrUnavailable: the storage cannot serve now — its disk is full, it is
// unreachable, it timed out. Nothing was written; the same request may
// succeed later. Backends wrap it, or register a classifier for their
// driver's errors (RegisterUnavailable); callers test IsUnavailable.
var ErrUnavailable = errors.New("store: storage unavailable")

var (
	classifiersMu sync.RWMutex
	classifiers   []func(error) bool
)

// RegisterUnavailable adds a test that recognises a backend driver's
// "unavailable" errors (disk full, I/O error, no server reachable). Called
// from the backends' init.
func RegisterUnavailable(f func(error) bool) {
	classifiersMu.Lock()
	defer classifiersMu.Unlock()
	classifiers = append(classifiers, f)
}

// IsUnavailable reports whether err means the storage cannot serve now
// (rather than a bad request or a bug): the API answers it 503 with
// Retry-After and readiness reports it.
func IsUnavailable(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, ErrUnavailable) {
		return true
	}
	classifiersMu.RLock()
	defer classifiersMu.RUnlock()
	for _, f := range classifiers {
		if f(err) {
			return true
		}
	}
	return false
}
