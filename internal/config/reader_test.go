package config

import (
	"strings"
	"testing"
)

// TestUnparsableSettings: a number, a yes/no or a duration that does not
// read is refused with its name, what it must be and the value given.
func TestUnparsableSettings(t *testing.T) {
	for _, c := range []struct{ name, value, want string }{
		{"LIAISON_RATE_LIMIT", "12x", `LIAISON_RATE_LIMIT: must be a whole number (got "12x")`},
		{"LIAISON_TRUSTED_PROXY", "perhaps", `LIAISON_TRUSTED_PROXY: must be true or false (got "perhaps")`},
		{"LIAISON_SHUTDOWN_TIMEOUT", "10", `LIAISON_SHUTDOWN_TIMEOUT: must be a duration such as 10s (got "10")`},
		{"LIAISON_SHUTDOWN_TIMEOUT", "-5s", `LIAISON_SHUTDOWN_TIMEOUT: must be a duration such as 10s (got "-5s")`},
		{"LIAISON_FEED_IMAGE_MIB", "-1", `LIAISON_FEED_IMAGE_MIB: must be between 0 (off) and 65536 (got -1)`},
		{"LIAISON_FEED_IMAGE_MIB", "256M", `LIAISON_FEED_IMAGE_MIB: must be a whole number (got "256M")`},
	} {
		if _, err := FromEnv(env(map[string]string{c.name: c.value})); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s=%s: error %v, want one saying %s", c.name, c.value, err, c.want)
		}
	}
}
