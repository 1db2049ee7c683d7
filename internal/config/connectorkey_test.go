package config

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestConnectorKeys(t *testing.T) {
	key := base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
	file := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(file, []byte(key+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := FromEnv(env(map[string]string{"LIAISON_CONNECTOR_KEY_FILE": file, "LIAISON_CONNECTOR_KEY_PREVIOUS": key}))
	if err != nil || c.ConnectorKey != key || c.ConnectorKeyPrevious != key {
		t.Fatalf("from a file: %+v %v", c, err)
	}
	if k, err := DecodeKey(strings.TrimRight(base64.URLEncoding.EncodeToString(make([]byte, 32)), "=")); err != nil || len(k) != 32 {
		t.Fatalf("unpadded URL alphabet: %v", err)
	}
	for name, e := range map[string]map[string]string{
		"LIAISON_CONNECTOR_KEY":          {"LIAISON_CONNECTOR_KEY": base64.StdEncoding.EncodeToString(make([]byte, 16))},
		"LIAISON_CONNECTOR_KEY_PREVIOUS": {"LIAISON_CONNECTOR_KEY": key, "LIAISON_CONNECTOR_KEY_PREVIOUS": "pas du base64 !"},
		"needs LIAISON_CONNECTOR_KEY":    {"LIAISON_CONNECTOR_KEY_PREVIOUS": key},
		"not both":                       {"LIAISON_CONNECTOR_KEY": key, "LIAISON_CONNECTOR_KEY_FILE": file},
	} {
		if _, err := FromEnv(env(e)); err == nil || !strings.Contains(err.Error(), name) {
			t.Fatalf("%v: error %v, want one naming %q", e, err, name)
		}
	}
}
