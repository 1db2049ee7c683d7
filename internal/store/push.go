package store

// PushStore is the Web Push part of the contract: subscriptions, the
// durable push outbox (batches claimed by lease), per-recipient results
// and receipts.
type PushStore interface {
}
