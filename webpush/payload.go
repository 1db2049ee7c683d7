package webpush

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"
	"unicode/utf8"
)

// Sizes of the aes128gcm encoding (RFC 8188/8291) of a single-record message:
// header = salt(16) + rs(4) + idlen(1) + sender public key(65); the record
// adds a padding delimiter (1) and the AES-GCM tag (16).
const (
	EncryptionHeaderBytes = 16 + 4 + 1 + 65                   // 86
	EncryptionOverhead    = EncryptionHeaderBytes + 1 + 16    // 103
	MaxBodyBytes          = 2744                              // Firefox for Android (autopush→FCM bridge) 413s above this
	MaxPayloadBytes       = MaxBodyBytes - EncryptionOverhead // 2641: the plaintext bound every push service accepts
	ellipsis              = "…"
)

// Payload is the JSON a push carries to the service worker. Keys are short
// to keep pushes small; the service worker reads them as documented on each
// field. The feed holds everything else: a push is a pointer plus a summary.
type Payload struct {
	Kind      string `json:"k,omitempty"` // message kind; "" = notice. The SW shows a notification for every kind (iOS requires it)
	NoticeID  string `json:"id"`          // notice id
	Version   int    `json:"v,omitempty"` // notice version (corrections are new versions)
	Category  string `json:"c,omitempty"` // notice category code
	Title     string `json:"t"`           // notification title
	Text      string `json:"b,omitempty"` // notification body, possibly truncated
	URL       string `json:"u,omitempty"` // where a click leads
	Receipt   string `json:"r,omitempty"` // opaque token the SW posts back to acknowledge display
	Critical  bool   `json:"p,omitempty"` // requireInteraction / renotify
	Truncated bool   `json:"x,omitempty"` // Text was shortened or dropped: open the feed for the full text
	SentAt    int64  `json:"s,omitempty"` // Unix seconds at which the push was built
}

// BuildPayload encodes p as JSON of at most maxBytes (MaxPayloadBytes when
// maxBytes <= 0 or larger). If it does not fit, Text is cut on a rune
// boundary and ends with "…" (Truncated is set); if it still does not fit
// with no text, Title is cut the same way. ErrPayloadTooLarge is returned
// when even that is not enough (an enormous id, URL or receipt).
func BuildPayload(p Payload, maxBytes int) ([]byte, error) {
	if maxBytes <= 0 || maxBytes > MaxPayloadBytes {
		maxBytes = MaxPayloadBytes
	}
	b, err := encodePayload(p)
	if err != nil || len(b) <= maxBytes {
		return b, err
	}
	p.Truncated = true
	full := p.Text
	p.Text = ""
	if b, err = encodePayload(p); err != nil {
		return nil, err
	}
	if len(b) <= maxBytes {
		// Some text fits: keep the longest prefix that does.
		return fitField(&p, &p.Text, full, maxBytes)
	}
	// No text at all fits: cut the title too.
	return fitField(&p, &p.Title, p.Title, maxBytes)
}

// Shrink is the payload to retry with after a 413: the same notice without
// its text (Truncated set, so the service worker opens the feed), the title
// cut if needed to fit maxBytes (MaxPayloadBytes when <= 0).
func Shrink(p Payload, maxBytes int) ([]byte, error) {
	if maxBytes <= 0 || maxBytes > MaxPayloadBytes {
		maxBytes = MaxPayloadBytes
	}
	if p.Text != "" {
		p.Text, p.Truncated = "", true
	}
	b, err := encodePayload(p)
	if err != nil || len(b) <= maxBytes {
		return b, err
	}
	p.Truncated = true
	return fitField(&p, &p.Title, p.Title, maxBytes)
}

// fitField sets *field (a field of *p) to the longest rune prefix of full
// (plus "…") with which p encodes within maxBytes, "" if none.
//
// Fast path: the encoding with the field set to "…" alone, plus the JSON
// escaped length of each rune kept, in one pass. The result is checked; if
// the escaping model were ever wrong, a binary search over rune counts
// (the encoded length never decreases as the prefix grows) decides.
func fitField(p *Payload, field *string, full string, maxBytes int) ([]byte, error) {
	*field = ellipsis
	base, err := encodePayload(*p)
	if err != nil {
		return nil, err
	}
	if budget := maxBytes - len(base); budget >= 0 {
		cut, used := 0, 0
		for cut < len(full) {
			r, size := utf8.DecodeRuneInString(full[cut:])
			w := jsonEscapedLen(r, size)
			if used+w > budget {
				break
			}
			used += w
			cut += size
		}
		if cut < len(full) {
			if b, err := p.withField(field, full[:cut]); err != nil || len(b) <= maxBytes {
				return b, err
			}
		}
	}
	return fitFieldSearch(p, field, full, maxBytes)
}

// withField encodes p with *field set to prefix + "…" ("" for no prefix).
func (p *Payload) withField(field *string, prefix string) ([]byte, error) {
	if prefix == "" {
		*field = ""
	} else {
		*field = strings.TrimRightFunc(prefix, isSpace) + ellipsis
	}
	return encodePayload(*p)
}

// jsonEscapedLen is the length of a rune in a JSON string as encoding/json
// writes it without HTML escaping, rounded up where versions differ.
func jsonEscapedLen(r rune, size int) int {
	switch {
	case r == utf8.RuneError && size == 1:
		return 6 // \ufffd
	case r == '"' || r == '\\' || r == '\n' || r == '\r' || r == '\t':
		return 2
	case r < 0x20 || r == '\u2028' || r == '\u2029':
		return 6
	}
	return size
}

func fitFieldSearch(p *Payload, field *string, full string, maxBytes int) ([]byte, error) {
	starts := make([]int, 0, len(full)+1)
	for i := range full {
		starts = append(starts, i)
	}
	starts = append(starts, len(full))
	var best []byte
	lo, hi := 0, len(starts)-2 // runes kept; all of them is known not to fit
	for lo <= hi {
		mid := int(uint(lo+hi) >> 1)
		b, err := p.withField(field, full[:starts[mid]])
		if err != nil {
			return nil, err
		}
		if len(b) <= maxBytes {
			best, lo = b, mid+1
		} else {
			hi = mid - 1
		}
	}
	if best == nil {
		return nil, ErrPayloadTooLarge
	}
	return best, nil
}

func isSpace(r rune) bool { return r == ' ' || r == '\n' || r == '\t' || r == '\r' || r == '\u00a0' }

func encodePayload(p Payload) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(p); err != nil {
		return nil, err
	}
	b := buf.Bytes()
	return b[: len(b)-1 : len(b)-1], nil // drop the newline; cap == len for Send
}

// Topic derives the push Topic header from a notice id: 32 characters of
// base64url (24 bytes of SHA-256), which Apple, Mozilla, FCM and WNS all
// accept (≤ 32 chars, length ≡ 0 mod 4, base64url alphabet only). Every
// version of a notice has the same Topic, so a correction replaces the
// earlier notification still queued at the push service.
func Topic(noticeID string) string {
	h := sha256.Sum256([]byte("liaison/push-topic\x00" + noticeID))
	return base64.RawURLEncoding.EncodeToString(h[:24])
}

// ValidTopic reports whether t is acceptable as a Topic header everywhere:
// 1–32 base64url characters, length not ≡ 1 mod 4 (Apple).
func ValidTopic(t string) bool {
	if len(t) == 0 || len(t) > 32 || len(t)%4 == 1 {
		return false
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return utf8.ValidString(t)
}
