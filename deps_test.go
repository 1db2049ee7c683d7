package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// scripts/deps.sh is what `make test` runs first: on a machine without
// Chromium it installs it when it can, and otherwise stops at once with one
// sentence naming what to install. Each case runs the script with a PATH of
// stand-ins (id, apt-get, node, npm) in a temp dir.
func TestDepsScript(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Fatalf("bash: %v", err)
	}
	script, err := filepath.Abs("scripts/deps.sh")
	if err != nil {
		t.Fatal(err)
	}

	type machine struct {
		uid        string // what id -u prints
		apt        bool   // apt-get exists
		aptMakes   bool   // apt-get install creates the chromium binary
		chromium   bool   // chromium already there
		firefox    bool   // firefox-esr already there
		aptFirefox bool   // apt-get install creates the firefox-esr binary
		node, font bool
	}
	setup := func(t *testing.T, m machine) (env []string, chromium, aptLog string) {
		t.Helper()
		dir := t.TempDir()
		bin := filepath.Join(dir, "bin")
		if err := os.Mkdir(bin, 0o755); err != nil {
			t.Fatal(err)
		}
		chromium = filepath.Join(dir, "chromium")
		firefox := filepath.Join(dir, "firefox-esr")
		aptLog = filepath.Join(dir, "apt.log")
		font := filepath.Join(dir, "font.ttf")
		write := func(path, body string, mode os.FileMode) {
			if err := os.WriteFile(path, []byte(body), mode); err != nil {
				t.Fatal(err)
			}
		}
		write(filepath.Join(bin, "id"), "#!"+bash+"\necho "+m.uid+"\n", 0o755)
		if m.apt {
			body := "#!" + bash + "\necho \"$*\" >> " + aptLog + "\n"
			if m.aptMakes {
				body += "case \"$*\" in *install*chromium*) printf '#!/bin/true\\n' > " + chromium + "; /bin/chmod +x " + chromium + ";; esac\n"
			}
			if m.aptFirefox {
				body += "case \"$*\" in *install*firefox-esr*) printf '#!/bin/true\\n' > " + firefox + "; /bin/chmod +x " + firefox + ";; esac\n"
			}
			write(filepath.Join(bin, "apt-get"), body, 0o755)
		}
		if m.node {
			write(filepath.Join(bin, "node"), "#!"+bash+"\n", 0o755)
			write(filepath.Join(bin, "npm"), "#!"+bash+"\n", 0o755)
		}
		if m.chromium {
			write(chromium, "#!"+bash+"\n", 0o755)
		}
		if m.firefox {
			write(firefox, "#!"+bash+"\n", 0o755)
		}
		if m.font {
			write(font, "", 0o644)
		}
		env = []string{"PATH=" + bin, "CHROMIUM_PATH=" + chromium, "FIREFOX_PATH=" + firefox, "LIAISON_DEPS_FONT=" + font, "HOME=" + dir}
		return env, chromium, aptLog
	}
	run := func(t *testing.T, env []string) (int, string, string) {
		cmd := exec.Command(bash, script)
		cmd.Env = env
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return code, out.String(), errb.String()
	}

	// installed runs the script, which must succeed, and is what it asked
	// apt-get to do.
	installed := func(t *testing.T, env []string, aptLog string) string {
		t.Helper()
		code, _, errs := run(t, env)
		if code != 0 {
			t.Fatalf("exit %d, err %q", code, errs)
		}
		log, err := os.ReadFile(aptLog)
		if err != nil {
			t.Fatal(err)
		}
		return string(log)
	}

	t.Run("everything there: nothing to do, nothing said", func(t *testing.T) {
		env, _, aptLog := setup(t, machine{uid: "0", apt: true, chromium: true, firefox: true, node: true, font: true})
		code, out, errs := run(t, env)
		if code != 0 || out != "" || errs != "" {
			t.Fatalf("exit %d, out %q, err %q", code, out, errs)
		}
		if _, err := os.Stat(aptLog); err == nil {
			t.Fatal("apt-get ran with nothing missing")
		}
	})

	t.Run("no chromium, not root: one sentence naming it, no install", func(t *testing.T) {
		env, _, aptLog := setup(t, machine{uid: "1000", apt: true, firefox: true, node: true, font: true})
		code, out, errs := run(t, env)
		if code != 1 {
			t.Fatalf("exit %d, want 1 (out %q, err %q)", code, out, errs)
		}
		lines := strings.Split(strings.TrimSpace(errs), "\n")
		if len(lines) != 1 || !strings.Contains(lines[0], "chromium") || !strings.Contains(lines[0], "apt-get install chromium") {
			t.Fatalf("want one sentence naming chromium, got %q", errs)
		}
		if _, err := os.Stat(aptLog); err == nil {
			t.Fatal("apt-get ran without root")
		}
	})

	t.Run("no chromium, node nor font, root without apt-get: names all three", func(t *testing.T) {
		env, _, _ := setup(t, machine{uid: "0"})
		code, _, errs := run(t, env)
		if code != 1 {
			t.Fatalf("exit %d, err %q", code, errs)
		}
		for _, pkg := range []string{"chromium", "fonts-dejavu-core", "nodejs", "npm"} {
			if !strings.Contains(errs, pkg) {
				t.Errorf("message does not name %s: %q", pkg, errs)
			}
		}
	})

	t.Run("no chromium, root with apt-get: installs it", func(t *testing.T) {
		env, chromium, aptLog := setup(t, machine{uid: "0", apt: true, aptMakes: true, firefox: true, node: true, font: true})
		log := installed(t, env, aptLog)
		if !strings.Contains(log, "install") || !strings.Contains(log, "chromium") {
			t.Fatalf("apt-get calls: %q", log)
		}
		if _, err := os.Stat(chromium); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("install that does not provide chromium fails clearly", func(t *testing.T) {
		env, _, _ := setup(t, machine{uid: "0", apt: true, firefox: true, node: true, font: true})
		code, _, errs := run(t, env)
		if code != 1 || !strings.Contains(errs, "CHROMIUM_PATH") {
			t.Fatalf("exit %d, err %q", code, errs)
		}
	})

	t.Run("no firefox-esr, not root: one sentence naming it", func(t *testing.T) {
		env, _, aptLog := setup(t, machine{uid: "1000", apt: true, chromium: true, node: true, font: true})
		code, out, errs := run(t, env)
		lines := strings.Split(strings.TrimSpace(errs), "\n")
		if code != 1 || len(lines) != 1 || !strings.Contains(lines[0], "apt-get install firefox-esr") {
			t.Fatalf("exit %d, want 1 and one sentence naming firefox-esr (out %q, err %q)", code, out, errs)
		}
		if _, err := os.Stat(aptLog); err == nil {
			t.Fatal("apt-get ran without root")
		}
	})

	t.Run("no firefox-esr, root with apt-get: installs it", func(t *testing.T) {
		env, _, aptLog := setup(t, machine{uid: "0", apt: true, aptFirefox: true, chromium: true, node: true, font: true})
		log := installed(t, env, aptLog)
		if !strings.Contains(log, "install") || !strings.Contains(log, "firefox-esr") || strings.Contains(log, "chromium") {
			t.Fatalf("apt-get calls: %q", log)
		}
	})

	t.Run("install that does not provide firefox-esr fails clearly", func(t *testing.T) {
		env, _, _ := setup(t, machine{uid: "0", apt: true, chromium: true, node: true, font: true})
		code, _, errs := run(t, env)
		if code != 1 || !strings.Contains(errs, "FIREFOX_PATH") {
			t.Fatalf("exit %d, err %q", code, errs)
		}
	})
}
