package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/liaison-ent/liaison/api"
	"github.com/liaison-ent/liaison/internal/config"
	"github.com/liaison-ent/liaison/internal/store/sqlite"
)

// The feed bench's server runs in a process of its own (this binary with
// -serve DIR), as in production: its peak RSS (VmHWM) is its own, without
// the bench's set-up data (a million parents and their tokens) or the load
// generator. The bench reads it from /proc and resets it between phases
// (clear_refs), so that each phase's peak is its own.

// benchConfig is the API's configuration in the bench: the defaults,
// without rate limit (the load comes from one address).
func benchConfig() (config.Config, error) {
	return config.FromEnv(func(k string) string {
		if k == "LIAISON_RATE_LIMIT" {
			return "0"
		}
		return ""
	})
}

// serveMain is the server process: the API on the embedded store in dir,
// on 127.0.0.1, its address printed as the first line on stdout. It reads
// commands on stdin, answering each with a line ("ok" or the error):
// "profile FILE" and "stop" (a CPU profile), "heap FILE" (a heap
// profile), "pin CPUS" and "unpin" (run
// on these CPUs only, GOMAXPROCS as many). It stops at the end of stdin:
// when the bench ends, however it ends.
func serveMain(dir string) error {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, dir)
	if err != nil {
		return err
	}
	defer st.Close()
	cfg, err := benchConfig()
	if err != nil {
		return err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := api.New(api.Deps{Store: st, Config: cfg, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	go func() { _ = srv.App.Listener(l) }()
	defer func() { _ = srv.App.ShutdownWithTimeout(5 * time.Second) }()
	fmt.Printf("http://%s\n", l.Addr())
	var prof *os.File
	var unpin func()
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		cmd, arg, _ := strings.Cut(in.Text(), " ")
		err := error(nil)
		switch cmd {
		case "profile":
			if prof, err = os.Create(arg); err == nil {
				err = pprof.StartCPUProfile(prof)
			}
		case "stop":
			pprof.StopCPUProfile()
			if prof != nil {
				err = prof.Close()
				prof = nil
			}
		case "heap": // a heap profile, for a look at what the server holds
			var f *os.File
			if f, err = os.Create(arg); err == nil {
				err = pprof.Lookup("heap").WriteTo(f, 0)
				f.Close()
			}
		case "pin":
			var cpus []int
			for _, c := range strings.Split(arg, ",") {
				n, err := strconv.Atoi(c)
				if err != nil {
					return err
				}
				cpus = append(cpus, n)
			}
			unpin, err = pinProcess(cpus)
		case "unpin":
			if unpin != nil {
				unpin()
				unpin = nil
			}
		default:
			err = fmt.Errorf("unknown command %q", cmd)
		}
		if err != nil {
			fmt.Println(err)
		} else {
			fmt.Println("ok")
		}
	}
	pprof.StopCPUProfile()
	return in.Err()
}

// serverProc is the server process, seen from the bench.
type serverProc struct {
	cmd  *exec.Cmd
	in   io.WriteCloser
	out  *bufio.Scanner
	base string
}

// startServer starts the server process on the store in dir.
func startServer(dir string) (*serverProc, error) {
	cmd := exec.Command(os.Args[0], "-serve", dir)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &serverProc{cmd: cmd, in: in, out: bufio.NewScanner(out)}
	if !p.out.Scan() {
		p.stop()
		return nil, fmt.Errorf("server process: no address: %v", p.out.Err())
	}
	p.base = strings.TrimSpace(p.out.Text())
	return p, nil
}

// do sends a command and waits for its answer.
func (p *serverProc) do(cmd string) error {
	if _, err := fmt.Fprintln(p.in, cmd); err != nil {
		return err
	}
	if !p.out.Scan() {
		return fmt.Errorf("server process: %s: no answer", cmd)
	}
	if a := p.out.Text(); a != "ok" {
		return fmt.Errorf("server process: %s: %s", cmd, a)
	}
	return nil
}

// doFile sends a command that writes a file (a profile) at path, made
// absolute: the server process may run in another directory.
func (p *serverProc) doFile(cmd, path string) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	return p.do(cmd + " " + abs)
}

// stop ends the server process (end of its stdin) and waits for it.
func (p *serverProc) stop() {
	p.in.Close()
	done := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-done
	}
}

// cpuTime is the CPU time the process has used (user and system, from
// /proc/PID/stat, in clock ticks of 10 ms).
func (p *serverProc) cpuTime() (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) is in parentheses and may hold spaces:
	// the fields counted from after its closing one, utime and stime are
	// the 12th and 13th.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("server process: unreadable /proc/%d/stat", p.cmd.Process.Pid)
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	s, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("server process: unreadable /proc/%d/stat", p.cmd.Process.Pid)
	}
	return time.Duration(u+s) * 10 * time.Millisecond, nil
}

// memory is the process's peak and current resident set size, in bytes
// (VmHWM and VmRSS of /proc/PID/status).
func (p *serverProc) memory() (peak, cur int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, _ := strings.Cut(line, ":")
		f := strings.Fields(v)
		if len(f) != 2 || f[1] != "kB" {
			continue
		}
		n, _ := strconv.ParseInt(f[0], 10, 64)
		switch k {
		case "VmHWM":
			peak = n << 10
		case "VmRSS":
			cur = n << 10
		}
	}
	if peak == 0 {
		return 0, 0, fmt.Errorf("server process: no VmHWM in /proc/%d/status", p.cmd.Process.Pid)
	}
	return peak, cur, nil
}

// resetPeak starts the process's peak RSS again from its current RSS
// (clear_refs 5, Linux 4.0 on).
func (p *serverProc) resetPeak() error {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", p.cmd.Process.Pid), []byte("5"), 0)
}

func mib(n int64) string { return fmt.Sprintf("%.0f MiB", float64(n)/(1<<20)) }
