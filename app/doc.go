// Package app is Liaison's application layer: the use cases (publish,
// check, correct, withdraw, reach and stats of a notice; a parent's feed,
// reads, acknowledgements, preferences and push subscriptions; the
// directory sync; accounts and conventions) as plain Go functions. Each
// takes a context, the authenticated Principal and a typed request, and
// returns a typed result or a catalog *Error. No HTTP here: the JSON API
// (package api), the back-office (package admin) and the parent page call
// the same functions, so a rule — the daily quota, the small-group rule,
// who may change which notice — is decided once.
package app
