package webpush

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
)

// RFC 8291 §3.4 and RFC 8188 §2.2-2.3 info strings.
const (
	keyInfoPrefix = "WebPush: info\x00"
	cekInfo       = "Content-Encoding: aes128gcm\x00"
	nonceInfo     = "Content-Encoding: nonce\x00"
)

var errBodySize = errors.New("webpush: payload does not fit the record size")

// encrypt encodes payload for a user agent (its P-256 key uaPub, whose
// uncompressed form is uaRaw, and its 16-byte auth secret) as an aes128gcm
// message (RFC 8291 over RFC 8188) of exactly size bytes: the header (salt,
// rs = size, the 65-byte ephemeral public key as keyid) and a single record
// of payload, the 0x02 delimiter and zero padding, sealed with AES-128-GCM.
// This is the layout webpush-go produces with RecordSize = size. A fresh
// ephemeral key and salt are drawn for every message.
//
// The body is the only buffer that escapes; it is encrypted in place.
func encrypt(payload []byte, uaPub *ecdh.PublicKey, uaRaw, auth []byte, size int) ([]byte, error) {
	if size < len(payload)+EncryptionOverhead || size > 1<<24 {
		return nil, errBodySize
	}
	eph, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	var salt [16]byte
	if _, err := rand.Read(salt[:]); err != nil {
		return nil, err
	}
	return seal(payload, eph, salt[:], uaPub, uaRaw, auth, uint32(size), size)
}

// seal is encrypt with a given ephemeral key and salt, the record size rs
// written in the header, and a body of size bytes (the record padded up to
// it); RFC 8291's example has rs = 4096 and no padding.
func seal(payload []byte, eph *ecdh.PrivateKey, salt []byte, uaPub *ecdh.PublicKey, uaRaw, auth []byte, rs uint32, size int) ([]byte, error) {
	if size < len(payload)+EncryptionOverhead || uint64(size) > uint64(rs) || len(salt) != 16 {
		return nil, errBodySize
	}
	secret, err := eph.ECDH(uaPub)
	if err != nil {
		return nil, err
	}
	body := make([]byte, size)
	copy(body, salt)
	salt = body[:16]
	binary.BigEndian.PutUint32(body[16:20], rs)
	body[20] = 65
	asRaw := body[21:EncryptionHeaderBytes]
	if copy(asRaw, eph.PublicKey().Bytes()) != 65 {
		return nil, errors.New("webpush: unexpected ephemeral key length")
	}

	// RFC 8291 §3.3: IKM = HKDF(auth, ecdh_secret, "WebPush: info\0" ||
	// ua_public || as_public, 32); RFC 8188 §2.2-2.3: CEK and NONCE from
	// HKDF(salt, IKM, ...). Every output fits one HMAC-SHA256 block, so
	// HKDF-Expand is a single HMAC(prk, info || 0x01), computed on the
	// stack (crypto/hkdf allocates two digests per HMAC).
	var info [len(keyInfoPrefix) + 65 + 65 + 1]byte
	copy(info[copy(info[:], keyInfoPrefix):], uaRaw)
	copy(info[len(keyInfoPrefix)+65:], asRaw)
	info[len(info)-1] = 1
	var prk, ikm, okm [sha256.Size]byte
	hmacSHA256(&prk, auth, secret)
	hmacSHA256(&ikm, prk[:], info[:])
	hmacSHA256(&prk, salt, ikm[:])
	hmacSHA256(&okm, prk[:], []byte(cekInfo+"\x01"))
	var cek [16]byte
	copy(cek[:], okm[:16])
	hmacSHA256(&okm, prk[:], []byte(nonceInfo+"\x01"))
	nonce := okm[:12]
	block, err := aes.NewCipher(cek[:])
	if err != nil {
		return nil, err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	// The single (last) record: payload, delimiter 0x02, zeros up to the
	// tag. make zeroed the padding already.
	plain := body[EncryptionHeaderBytes : size-gcm.Overhead()]
	plain[copy(plain, payload)] = 2
	gcm.Seal(plain[:0], nonce, plain, nil) // sequence number 0: nonce as derived
	return body, nil
}

// hmacSHA256 sets out to HMAC-SHA256(key, msg) for a key of at most one
// block and a message of at most maxHMACMsg bytes (all of seal's), without
// allocating.
func hmacSHA256(out *[sha256.Size]byte, key, msg []byte) {
	const block = sha256.BlockSize
	if len(key) > block || len(msg) > maxHMACMsg {
		panic("webpush: hmacSHA256 input too long")
	}
	var buf [block + maxHMACMsg]byte
	for i := range block {
		var k byte
		if i < len(key) {
			k = key[i]
		}
		buf[i] = k ^ 0x36
	}
	n := block + copy(buf[block:], msg)
	inner := sha256.Sum256(buf[:n])
	for i := range block {
		buf[i] ^= 0x36 ^ 0x5c
	}
	copy(buf[block:], inner[:])
	*out = sha256.Sum256(buf[:block+sha256.Size])
}

// maxHMACMsg is the longest HMAC message of seal: the key info.
const maxHMACMsg = len(keyInfoPrefix) + 65 + 65 + 1
