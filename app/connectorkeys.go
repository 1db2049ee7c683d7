package app

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/liaison-ent/liaison/internal/config"
	"github.com/liaison-ent/liaison/internal/store"
)

// sealKey is one connector key: AES-256-GCM and its id (a fingerprint,
// stored with every value it seals, so that after a rotation the value
// names the key that opens it).
type sealKey struct {
	id   string
	aead cipher.AEAD
}

// connectorKeys seal and open the connectors' client secrets with keys
// held outside the database: LIAISON_CONNECTOR_KEY (current: seals and
// opens) and LIAISON_CONNECTOR_KEY_PREVIOUS (opens only, during a
// rotation). A secret is bound to its ENT and kind (additional data): a
// sealed value copied to another connector does not open.
type connectorKeys struct {
	current, previous *sealKey
}

// errSecretUnreadable: no configured key opens the sealed value (its key
// was rotated away, or the value was altered).
var errSecretUnreadable = errors.New("app: no configured connector key opens this secret")

func newSealKey(b64 string) (*sealKey, error) {
	if b64 == "" {
		return nil, nil
	}
	k, err := config.DecodeKey(b64)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(k)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(append([]byte("liaison connector key id\x00"), k...))
	return &sealKey{id: hex.EncodeToString(sum[:8]), aead: aead}, nil
}

// newConnectorKeys reads the keys of cfg; a malformed key is an error
// (config.Validate refuses it at start-up already).
func newConnectorKeys(cfg config.Config) (connectorKeys, error) {
	cur, err := newSealKey(cfg.ConnectorKey)
	if err != nil {
		return connectorKeys{}, fmt.Errorf("LIAISON_CONNECTOR_KEY: %w", err)
	}
	prev, err := newSealKey(cfg.ConnectorKeyPrevious)
	if err != nil {
		return connectorKeys{}, fmt.Errorf("LIAISON_CONNECTOR_KEY_PREVIOUS: %w", err)
	}
	return connectorKeys{current: cur, previous: prev}, nil
}

func secretAD(entID, kind string) []byte {
	return []byte("liaison connector secret\x00" + entID + "\x00" + kind)
}

// seal encrypts secret for the connector (entID, kind) with the current
// key; without one, connectors.key_missing.
func (k connectorKeys) seal(entID, kind, secret string) (store.SealedSecret, error) {
	if k.current == nil {
		return store.SealedSecret{}, Err(CodeConnectorsKeyMissing)
	}
	nonce := make([]byte, k.current.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return store.SealedSecret{}, err
	}
	return store.SealedSecret{KeyID: k.current.id, Sealed: k.current.aead.Seal(nonce, nonce, []byte(secret), secretAD(entID, kind))}, nil
}

// key is the configured key of this id, nil when none.
func (k connectorKeys) key(id string) *sealKey {
	for _, c := range []*sealKey{k.current, k.previous} {
		if c != nil && c.id == id {
			return c
		}
	}
	return nil
}

// open decrypts a sealed secret of the connector (entID, kind).
func (k connectorKeys) open(entID, kind string, s store.SealedSecret) (string, error) {
	key := k.key(s.KeyID)
	if key == nil || len(s.Sealed) < key.aead.NonceSize() {
		return "", errSecretUnreadable
	}
	n := key.aead.NonceSize()
	plain, err := key.aead.Open(nil, s.Sealed[:n], s.Sealed[n:], secretAD(entID, kind))
	if err != nil {
		return "", errSecretUnreadable
	}
	return string(plain), nil
}

// stale reports whether s is sealed with a key other than the current
// one (a rotation left it behind).
func (k connectorKeys) stale(s store.SealedSecret) bool {
	return !s.IsZero() && (k.current == nil || s.KeyID != k.current.id)
}
