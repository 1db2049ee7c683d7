package delivery

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/liaison-ent/liaison/internal/store"
	"github.com/liaison-ent/liaison/webpush"
)

// Keys are the push secrets of this Liaison instance: the VAPID pair and
// the key signing receipt tokens.
//
// They live in the store (store.PushStore.PushSecrets), not in a file of
// LIAISON_DATA_DIR: API and worker processes on other machines share one
// MongoDB and must all sign with the key the browsers subscribed with and
// verify the receipts any of them issued; on the embedded store the
// database is in LIAISON_DATA_DIR anyway, so the keys share its backups
// and permissions. The first process to start generates them; a
// concurrent first start keeps the first stored.
type Keys struct {
	VAPID   webpush.VAPIDKeys
	Receipt []byte
}

// LoadKeys returns the instance's keys, generating and storing them at the
// first start. A VAPID pair given by configuration (pub and priv not empty)
// replaces the stored one.
func LoadKeys(ctx context.Context, st store.PushStore, pub, priv string, now time.Time) (Keys, error) {
	gen := store.PushSecrets{ReceiptKey: make([]byte, 32), CreatedAt: now}
	var err error
	if gen.VAPIDPublic, gen.VAPIDPrivate, err = webpush.GenerateVAPIDKeys(); err != nil {
		return Keys{}, fmt.Errorf("delivery: unable to generate VAPID keys: %w", err)
	}
	if _, err := rand.Read(gen.ReceiptKey); err != nil {
		return Keys{}, err
	}
	sec, err := st.PushSecrets(ctx, gen)
	if err != nil {
		return Keys{}, err
	}
	if pub == "" {
		pub, priv = sec.VAPIDPublic, sec.VAPIDPrivate
	}
	vk, err := webpush.ParseVAPIDKeys(pub, priv)
	if err != nil {
		return Keys{}, fmt.Errorf("delivery: VAPID keys: %w", err)
	}
	if len(sec.ReceiptKey) < 16 {
		return Keys{}, errors.New("delivery: stored receipt key is too short")
	}
	return Keys{VAPID: vk, Receipt: sec.ReceiptKey}, nil
}

// Receipt is what a receipt token proves: this push was sent to this
// subscription.
type Receipt struct {
	NoticeID       string
	Version        int
	SubscriptionID string
}

// ErrBadReceipt is returned for a receipt token that is malformed, forged
// or altered.
var ErrBadReceipt = errors.New("delivery: invalid receipt token")

const (
	receiptDomain = "liaison/push-receipt/v1\x00"
	receiptMACLen = 16 // 128-bit tag
	maxReceiptLen = 512
)

func (k Keys) mac(msg string) []byte {
	m := hmac.New(sha256.New, k.Receipt)
	m.Write([]byte(receiptDomain))
	m.Write([]byte(msg))
	return m.Sum(nil)[:receiptMACLen]
}

// ReceiptToken signs a receipt: base64url("notice.version.subscription")
// "." base64url(HMAC-SHA256 truncated to 128 bits). IDs never hold a dot.
func (k Keys) ReceiptToken(r Receipt) string {
	return string(k.appendReceiptToken(nil, r))
}

// appendReceiptToken appends ReceiptToken(r) to dst. For the usual sizes
// (key of at most a block, message of at most 256 bytes) the HMAC is
// computed on the stack: one token per push.
func (k Keys) appendReceiptToken(dst []byte, r Receipt) []byte {
	var msgBuf [256]byte
	msg := append(msgBuf[:0], r.NoticeID...)
	msg = append(msg, '.')
	msg = strconv.AppendInt(msg, int64(r.Version), 10)
	msg = append(msg, '.')
	msg = append(msg, r.SubscriptionID...)
	dst = base64.RawURLEncoding.AppendEncode(dst, msg)
	dst = append(dst, '.')
	const block = sha256.BlockSize
	if len(k.Receipt) > block || len(receiptDomain)+len(msg) > len(msgBuf) {
		return base64.RawURLEncoding.AppendEncode(dst, k.mac(string(msg)))
	}
	// HMAC-SHA256(key, domain || msg), as mac computes it.
	var buf [block + len(receiptDomain) + len(msgBuf)]byte
	for i := range block {
		var c byte
		if i < len(k.Receipt) {
			c = k.Receipt[i]
		}
		buf[i] = c ^ 0x36
	}
	n := block + copy(buf[block:], receiptDomain)
	n += copy(buf[n:], msg)
	inner := sha256.Sum256(buf[:n])
	for i := range block {
		buf[i] ^= 0x36 ^ 0x5c
	}
	copy(buf[block:], inner[:])
	tag := sha256.Sum256(buf[:block+sha256.Size])
	return base64.RawURLEncoding.AppendEncode(dst, tag[:receiptMACLen])
}

// VerifyReceipt checks a receipt token's signature (in constant time) and
// returns what it proves.
func (k Keys) VerifyReceipt(tok string) (Receipt, error) {
	if len(tok) > maxReceiptLen {
		return Receipt{}, ErrBadReceipt
	}
	b64msg, b64mac, ok := strings.Cut(tok, ".")
	if !ok {
		return Receipt{}, ErrBadReceipt
	}
	msg, err1 := base64.RawURLEncoding.Strict().DecodeString(b64msg)
	tag, err2 := base64.RawURLEncoding.Strict().DecodeString(b64mac)
	if err1 != nil || err2 != nil || !hmac.Equal(tag, k.mac(string(msg))) {
		return Receipt{}, ErrBadReceipt
	}
	parts := strings.Split(string(msg), ".")
	if len(parts) != 3 || parts[0] == "" || parts[2] == "" {
		return Receipt{}, ErrBadReceipt
	}
	v, err := strconv.Atoi(parts[1])
	if err != nil || v < 1 {
		return Receipt{}, ErrBadReceipt
	}
	return Receipt{NoticeID: parts[0], Version: v, SubscriptionID: parts[2]}, nil
}
