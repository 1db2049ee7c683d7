// Command ferretdb-test runs an embedded FerretDB v1 (MongoDB wire protocol
// over SQLite) for the Mongo backend's contract tests on machines without a
// MongoDB server. It is a test harness only; see README.md.
//
// It prints exactly one line on stdout once the listener accepts
// connections:
//
//	READY mongodb://127.0.0.1:PORT/
//
// and exits cleanly on SIGINT/SIGTERM or after -max-lifetime.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	os.Exit(run())
}

func run() int {
	dir := flag.String("dir", "", "SQLite data directory (created if missing); default: a temporary directory removed at exit")
	listen := flag.String("listen", "127.0.0.1:27018", "TCP listen address; port 0 picks a free port")
	maxLifetime := flag.Duration("max-lifetime", 30*time.Minute, "exit by itself after this long (0 disables)")
	logLevel := flag.String("log-level", "warn", "log level on stderr: debug, info, warn, error")
	flag.Parse()

	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "ferretdb-test: unexpected arguments: %v\n", flag.Args())
		return 2
	}

	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		fmt.Fprintf(os.Stderr, "ferretdb-test: bad -log-level: %v\n", err)
		return 2
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	// FerretDB internals also log through slog.Default in places.
	slog.SetDefault(logger)

	dataDir := *dir
	if dataDir == "" {
		tmp, err := os.MkdirTemp("", "ferretdb-test-")
		if err != nil {
			fmt.Fprintf(os.Stderr, "ferretdb-test: %v\n", err)
			return 1
		}
		defer os.RemoveAll(tmp)
		dataDir = tmp
	} else if err := os.MkdirAll(dataDir, 0o755); err != nil {
		fmt.Fprintf(os.Stderr, "ferretdb-test: %v\n", err)
		return 1
	}
	abs, err := filepath.Abs(dataDir)
	if err != nil {
		fmt.Fprintf(os.Stderr, "ferretdb-test: %v\n", err)
		return 1
	}
	sqliteURL := (&url.URL{Scheme: "file", Path: strings.TrimSuffix(filepath.ToSlash(abs), "/") + "/"}).String()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *maxLifetime > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, *maxLifetime, errMaxLifetime)
		defer cancel()
	}

	// New opens the SQLite backend and binds the TCP listener; connections
	// are queued from here on and served once Run starts the accept loop.
	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: *listen},
		Logger:    logger,
		Handler:   "sqlite",
		SQLiteURL: sqliteURL,
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "ferretdb-test: %v\n", err)
		return 1
	}

	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()

	// MongoDBURI waits for the listener, which New has already bound.
	fmt.Printf("READY %s\n", f.MongoDBURI())

	err = <-done
	if errors.Is(context.Cause(ctx), errMaxLifetime) {
		fmt.Fprintf(os.Stderr, "ferretdb-test: -max-lifetime %s reached, exiting\n", *maxLifetime)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "ferretdb-test: %v\n", err)
		return 1
	}
	return 0
}

var errMaxLifetime = errors.New("max lifetime reached")
