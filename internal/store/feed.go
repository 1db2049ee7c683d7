package store

// FeedStore is the parent-feed part of the contract: fan-out on read over
// notices, read and acknowledgement states, parents' preferences.
type FeedStore interface {
}
