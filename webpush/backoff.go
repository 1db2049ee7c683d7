package webpush

import (
	"math/rand/v2"
	"time"
)

// Retry policy for Transient outcomes.
const (
	BackoffBase = 2 * time.Second
	BackoffCap  = 10 * time.Minute
	MaxAttempts = 8             // sends of one push, the first included
	MaxRetryAge = 6 * time.Hour // no retry this long after the first attempt
)

// Backoff returns the delay before the next attempt after attempt failed
// attempts (1 for the first failure): full jitter, uniform in
// [0, min(BackoffCap, BackoffBase·2^(attempt-1))). rnd may be nil (the
// global source); pass a seeded one for reproducible tests.
func Backoff(attempt int, rnd *rand.Rand) time.Duration {
	if attempt < 1 {
		attempt = 1
	}
	ceiling := BackoffCap
	if attempt <= 20 { // 2 s·2^19 is already far above the cap
		ceiling = min(BackoffBase<<(attempt-1), BackoffCap)
	}
	if rnd == nil {
		return time.Duration(rand.Int64N(int64(ceiling)))
	}
	return time.Duration(rnd.Int64N(int64(ceiling)))
}

// RetryDeadline is the time after which a push first tried at first is
// dropped rather than retried: MaxRetryAge later, or earlier when the
// message's TTL ends first (ttl <= 0 means no TTL bound).
func RetryDeadline(first time.Time, ttl time.Duration) time.Time {
	age := MaxRetryAge
	if ttl > 0 {
		age = min(age, ttl)
	}
	return first.Add(age)
}

// ShouldRetry reports whether a push that has failed attempts times, first
// tried at first with the given TTL, may be tried again at next.
func ShouldRetry(attempts int, first, next time.Time, ttl time.Duration) bool {
	return attempts < MaxAttempts && next.Before(RetryDeadline(first, ttl))
}
