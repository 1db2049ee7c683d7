// Package webpush delivers Web Push messages (RFC 8030) encrypted with
// aes128gcm (RFC 8291) and authenticated with VAPID (RFC 8292).
//
// It holds everything a delivery worker needs around one push:
//
//   - VAPID keys and subject (GenerateVAPIDKeys, ParseVAPIDKeys, ValidateSubject);
//   - subscription validation against an allowlist of push-service hosts
//     (ValidateSubscription, ParseAllowlist, DefaultAllowlist): the endpoint is
//     a URL the server will POST to, so anything not allowed is refused (SSRF);
//   - the notification payload, kept small enough for every push service
//     (BuildPayload, Shrink) and the collapse Topic derived from the notice id;
//   - the Sender, which encrypts and posts with webpush-go over one shared
//     HTTP/2 client and classifies the answer into an Outcome;
//   - per push-service pacing (Pacer) and retry backoff (Backoff).
//
// The rules followed, and the push services' answers with what to do for
// each, are in docs/PUSH.md.
// Package pushtest provides a local TLS push service that decrypts and
// verifies what is sent, for tests.
package webpush
