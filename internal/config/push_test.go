package config

import (
	"strings"
	"testing"
	"time"
)

func TestPushPacingSettings(t *testing.T) {
	c, err := FromEnv(env(nil))
	if err != nil || c.PushMaxPerOrigin != 1000 || c.PushMaxConns != 16 || c.PushTimeout != 30*time.Second || c.PushMinTimeout != 2*time.Second {
		t.Fatalf("defaults: %+v %v", c, err)
	}
	c, err = FromEnv(env(map[string]string{"LIAISON_PUSH_MAX_PER_ORIGIN": "200", "LIAISON_PUSH_MAX_CONNS": "4",
		"LIAISON_PUSH_TIMEOUT": "10s", "LIAISON_PUSH_MIN_TIMEOUT": "500ms"}))
	if err != nil || c.PushMaxPerOrigin != 200 || c.PushMaxConns != 4 || c.PushTimeout != 10*time.Second || c.PushMinTimeout != 500*time.Millisecond {
		t.Fatalf("set: %+v %v", c, err)
	}
	for name, e := range map[string]map[string]string{
		"LIAISON_PUSH_MAX_PER_ORIGIN": {"LIAISON_PUSH_MAX_PER_ORIGIN": "0"},
		"LIAISON_PUSH_MAX_CONNS":      {"LIAISON_PUSH_MAX_CONNS": "-1"},
		"LIAISON_PUSH_TIMEOUT":        {"LIAISON_PUSH_TIMEOUT": "2m"},
		"LIAISON_PUSH_MIN_TIMEOUT":    {"LIAISON_PUSH_TIMEOUT": "5s", "LIAISON_PUSH_MIN_TIMEOUT": "6s"},
	} {
		if _, err := FromEnv(env(e)); err == nil || !strings.Contains(err.Error(), name) {
			t.Fatalf("%v: error %v, want one naming %q", e, err, name)
		}
	}
}
