package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/liaison-ent/liaison/admin"
	"github.com/liaison-ent/liaison/api"
	"github.com/liaison-ent/liaison/app"
	"github.com/liaison-ent/liaison/internal/auditverify"
	"github.com/liaison-ent/liaison/internal/config"
	"github.com/liaison-ent/liaison/internal/datadir"
	"github.com/liaison-ent/liaison/internal/demo"
	"github.com/liaison-ent/liaison/internal/operator"
	"github.com/liaison-ent/liaison/internal/sealed"
	"github.com/liaison-ent/liaison/internal/store"
	"github.com/liaison-ent/liaison/internal/store/mongo"
	"github.com/liaison-ent/liaison/internal/store/sqlite"
	"github.com/liaison-ent/liaison/parent"
)

const usage = `Liaison — notices from collectivités to parents through the ENT.

Usage:
  liaison serve                       run the service (configuration: LIAISON_* variables)
  liaison demo                        run the service on a fresh embedded store with demo data
  liaison operator create --name NAME create an operator account and print its token
  liaison audit verify                check the audit log's hash chain
  liaison backup FILE                 write a consistent copy of the embedded store (safe while serving)
  liaison restore FILE                replace the embedded store with a backup (server stopped)
  liaison vapid generate              print a new VAPID key pair (LIAISON_VAPID_*_KEY)
  liaison version                     print the version

See README.md for the configuration variables.
`

// run is the whole program; tests call it directly.
func run(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "version", "--version", "-v":
		fmt.Fprintln(stdout, "liaison", api.Version)
		return 0
	case "help", "--help", "-h":
		fmt.Fprint(stdout, usage)
		return 0
	case "vapid":
		return vapidCmd(rest, stdout, stderr)
	}
	cfg, err := config.FromEnv(getenv)
	if err != nil {
		fmt.Fprintf(stderr, "liaison: invalid configuration:\n%v\n", err)
		return 2
	}
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	switch cmd {
	case "serve":
		return serve(ctx, cfg, log, stdout, nil, nil)
	case "demo":
		return runDemo(ctx, cfg, log, stdout)
	case "operator":
		return operatorCmd(ctx, cfg, rest, stdout, stderr)
	case "audit":
		return auditCmd(ctx, cfg, rest, stdout, stderr)
	case "backup":
		return backupCmd(ctx, cfg, rest, stdout, stderr)
	case "restore":
		return restoreCmd(ctx, cfg, rest, stdout, stderr)
	}
	fmt.Fprintf(stderr, "liaison: unknown command %q\n\n%s", cmd, usage)
	return 2
}

// openStore opens MongoDB when LIAISON_MONGODB_URI is set, else the
// embedded SQLite database in LIAISON_DATA_DIR.
func openStore(ctx context.Context, cfg config.Config) (store.Store, error) {
	if !cfg.Embedded() {
		return mongo.Open(ctx, cfg.MongoURI)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return nil, fmt.Errorf("LIAISON_DATA_DIR: cannot create %s: %w", cfg.DataDir, err)
	}
	return sqlite.Open(ctx, cfg.DataDir, sqlite.Synchronous(cfg.SQLiteSynchronous), sqlite.FeedImage(int64(cfg.FeedImageMiB)<<20))
}

// serve runs the service until ctx ends, then shuts down in order: HTTP
// (with a timeout), workers, store. ready, if not nil, is called with the
// server once it listens. demoData is not nil under `liaison demo`: "/"
// then opens the back-office, whose sign-in page lists the demo accounts.
//
// It fails at once, exit 1, before any worker starts, when another serve
// holds the embedded data dir or the address cannot be bound; a listener
// that fails later stops the workers and exits 1 too. A shutdown that had
// to cut requests off at LIAISON_SHUTDOWN_TIMEOUT exits 1 and says so.
func serve(ctx context.Context, cfg config.Config, log *slog.Logger, stdout io.Writer, demoData *demo.Data, ready func(*api.Server)) int {
	if cfg.Embedded() {
		lock, err := lockDataDir(cfg)
		if err != nil {
			log.Error("cannot serve this data dir", slog.Any("error", err))
			return 1
		}
		defer lock.Release()
	}
	if cfg.SessionKey == "" {
		// Embedded store only (config.Validate requires the key with
		// MongoDB): one process, a key of its own.
		var err error
		if cfg.SessionKey, err = sealed.NewKey(); err != nil {
			log.Error("cannot make a session key", slog.Any("error", err))
			return 1
		}
		if demoData == nil {
			log.Warn("LIAISON_SESSION_KEY is not set: the back-office and parent page sessions use a key made for this process, and end when it restarts; set it (openssl rand -base64 32) to keep them")
		}
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		log.Error("cannot listen", slog.String("addr", cfg.Addr), slog.Any("error", err))
		return 1
	}
	defer ln.Close()
	st, err := openStore(ctx, cfg)
	if err != nil {
		log.Error("cannot open the store", slog.Any("error", err))
		return 1
	}
	defer st.Close()
	if tx, ok := st.(interface{ Transactions() bool }); ok && !tx.Transactions() {
		log.Warn("this MongoDB server runs no transactions (a standalone server, or FerretDB): a change and its audit entry are two writes, so a process killed between them leaves the change without its entry, and a directory sync killed midway is applied in part; run a replica set for all-or-nothing writes, and `liaison audit verify` to find such changes")
	}
	core := app.New(app.Deps{Store: st, Config: cfg, Log: log})
	backOffice := admin.New(admin.Deps{Store: st, Config: cfg, Log: log, Demo: demoData != nil, App: core})
	if demoData != nil {
		backOffice.SetDemoAccounts(demoAccounts(demoData))
	}
	parentPage, err := parent.New(parent.Deps{Store: st, Config: cfg, Log: log, App: core})
	if err != nil {
		log.Error("cannot build the parent page", slog.Any("error", err))
		return 1
	}
	mount := func(app *fiber.App) { backOffice.Mount(app); parentPage.Mount(app) }
	if demoData != nil {
		mount = func(app *fiber.App) {
			backOffice.Mount(app)
			parentPage.Mount(app)
			mountDemoENT(app, st, cfg, demoData, log)
			mountDemoParentSession(app, parentPage)
		}
	}
	srv := api.New(api.Deps{Store: st, Config: cfg, Log: log, Mount: mount, App: core, UploadGate: backOffice.UploadGate})
	registerStoreMetrics(srv.Registry(), st)
	wctx, stopWorkers := context.WithCancel(ctx)
	defer stopWorkers()
	workers := startWorkers(wctx, cfg, st, log, srv, demoDelivery(demoData))

	errc := make(chan error, 1)
	go func() { errc <- srv.App.Listener(ln) }()
	log.Info("liaison listening", slog.String("addr", ln.Addr().String()), slog.String("role", cfg.Role),
		slog.Bool("embedded_store", cfg.Embedded()), slog.String("version", api.Version))
	if ready != nil {
		ready(srv)
	}
	code := 0
	select {
	case err := <-errc:
		log.Error("server stopped", slog.Any("error", err))
		code = 1
	case <-ctx.Done():
		log.Info("shutting down")
		if err := srv.App.ShutdownWithTimeout(cfg.ShutdownTimeout); err != nil {
			log.Error("shutdown budget exceeded: requests in progress were cut off",
				slog.Duration("LIAISON_SHUTDOWN_TIMEOUT", cfg.ShutdownTimeout),
				slog.Int("open_connections", int(srv.App.Server().GetOpenConnectionsCount())), slog.Any("error", err))
			code = 1
		}
	}
	stopWorkers()
	workers.Wait()
	return code
}

// openCmdStore opens the store for a one-off command (operator, audit);
// when it cannot, it says why on stderr and ok is false (exit code 1).
func openCmdStore(ctx context.Context, cfg config.Config, stderr io.Writer) (st store.Store, ok bool) {
	// A one-off command reads no feed: no feed image to build.
	cfg.FeedImageMiB = 0
	st, err := openStore(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "liaison: cannot open the store: %v\n", err)
		return nil, false
	}
	return st, true
}

// lockDataDir takes the embedded data dir for this process (one serve per
// data dir: internal/datadir).
func lockDataDir(cfg config.Config) (*datadir.Lock, error) {
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return nil, fmt.Errorf("LIAISON_DATA_DIR: cannot create %s: %w", cfg.DataDir, err)
	}
	return datadir.Acquire(cfg.DataDir, cfg.Addr)
}

func operatorCmd(ctx context.Context, cfg config.Config, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "create" {
		fmt.Fprintln(stderr, "usage: liaison operator create --name NAME")
		return 2
	}
	fs := flag.NewFlagSet("operator create", flag.ContinueOnError)
	fs.SetOutput(stderr)
	name := fs.String("name", "", "the operator's name (a person or a team)")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	n, err := operator.Name(*name)
	if err != nil {
		fmt.Fprintf(stderr, "liaison: %v\n", err)
		return 2
	}
	st, ok := openCmdStore(ctx, cfg, stderr)
	if !ok {
		return 1
	}
	defer st.Close()
	token, acc, err := operator.Create(ctx, st, n, time.Now())
	if err != nil {
		fmt.Fprintf(stderr, "liaison: cannot create the operator: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "Operator %q created (id %s). Its token is shown once; keep it safe:\n%s\n", acc.Name, acc.ID, token)
	return 0
}

func auditCmd(ctx context.Context, cfg config.Config, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "verify" {
		fmt.Fprintln(stderr, "usage: liaison audit verify")
		return 2
	}
	st, ok := openCmdStore(ctx, cfg, stderr)
	if !ok {
		return 1
	}
	defer st.Close()
	n, err := auditverify.Verify(ctx, st)
	var broken *auditverify.BrokenEntryError
	switch {
	case errors.As(err, &broken):
		fmt.Fprintf(stderr, "audit: chain BROKEN at entry %d (%s %s at %s): %s\n",
			broken.Entry.Seq, broken.Entry.Action, broken.Entry.Target, broken.Entry.At.Format(time.RFC3339), broken.Why)
		return 1
	case err != nil:
		fmt.Fprintf(stderr, "audit: cannot read the log: %v\n", err)
		return 1
	}
	gaps, err := auditverify.CrossCheck(ctx, st)
	if err != nil {
		fmt.Fprintf(stderr, "audit: cannot read the store to cross-check the log: %v\n", err)
		return 1
	}
	if len(gaps) > 0 {
		fmt.Fprintf(stderr, "audit: %d entries, chain intact, but %d change(s) of the store have no audit entry (a process stopped between a change and its entry):\n", n, len(gaps))
		for i, g := range gaps {
			if i == 20 {
				fmt.Fprintf(stderr, "  … and %d more\n", len(gaps)-20)
				break
			}
			fmt.Fprintf(stderr, "  %s\n", g)
		}
		return 1
	}
	fmt.Fprintf(stdout, "audit: %d entries, chain intact; every notice and directory change has its entry\n", n)
	return 0
}
