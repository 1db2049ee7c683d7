package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/liaison-ent/liaison/admin"
	"github.com/liaison-ent/liaison/api"
	"github.com/liaison-ent/liaison/internal/config"
	"github.com/liaison-ent/liaison/internal/datadir"
	"github.com/liaison-ent/liaison/internal/demo"
	"github.com/liaison-ent/liaison/internal/store"
	"github.com/liaison-ent/liaison/internal/store/mongo"
	"github.com/liaison-ent/liaison/internal/store/sqlite"
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
	return sqlite.Open(ctx, cfg.DataDir, sqlite.Synchronous(cfg.SQLiteSynchronous))
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
	backOffice := admin.New(admin.Deps{Store: st, Config: cfg, Log: log, Demo: demoData != nil})
	if demoData != nil {
		backOffice.SetDemoAccounts(demoAccounts(demoData))
	}
	mount := backOffice.Mount
	if demoData != nil {
		mount = func(app *fiber.App) { backOffice.Mount(app); mountDemoENT(app, st, cfg, demoData, log) }
	}
	srv := api.New(api.Deps{Store: st, Config: cfg, Log: log, Mount: mount})
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
	if n := strings.TrimSpace(*name); len(n) < 2 || len(n) > 120 {
		fmt.Fprintln(stderr, "liaison: --name is required (2 to 120 characters)")
		return 2
	}
	st, err := openStore(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "liaison: cannot open the store: %v\n", err)
		return 1
	}
	defer st.Close()
	token, acc, err := createOperator(ctx, st, strings.TrimSpace(*name), time.Now())
	if err != nil {
		fmt.Fprintf(stderr, "liaison: cannot create the operator: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "Operator %q created (id %s). Its token is shown once; keep it safe:\n%s\n", acc.Name, acc.ID, token)
	return 0
}

func createOperator(ctx context.Context, st store.Store, name string, now time.Time) (string, store.Account, error) {
	now = now.UTC().Truncate(time.Millisecond)
	token := api.NewStaffToken()
	acc := store.Account{
		ID: store.NewID("acc", now), Role: store.RoleOperator, Name: name,
		TokenHash: store.HashToken(token), CreatedAt: now, CreatedBy: "cli",
	}
	a := store.AuditEntry{At: now, Actor: "cli", Action: "account.create", Target: acc.ID,
		Summary: fmt.Sprintf("Création du compte « %s » (rôle operator) en ligne de commande", name)}
	return token, acc, st.CreateAccount(ctx, acc, a)
}

func auditCmd(ctx context.Context, cfg config.Config, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "verify" {
		fmt.Fprintln(stderr, "usage: liaison audit verify")
		return 2
	}
	st, err := openStore(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "liaison: cannot open the store: %v\n", err)
		return 1
	}
	defer st.Close()
	n, err := verifyAudit(ctx, st)
	var broken *brokenEntryError
	switch {
	case errors.As(err, &broken):
		fmt.Fprintf(stderr, "audit: chain BROKEN at entry %d (%s %s at %s): %s\n",
			broken.Entry.Seq, broken.Entry.Action, broken.Entry.Target, broken.Entry.At.Format(time.RFC3339), broken.Why)
		return 1
	case err != nil:
		fmt.Fprintf(stderr, "audit: cannot read the log: %v\n", err)
		return 1
	}
	gaps, err := crossCheckAudit(ctx, st)
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

// crossCheckAudit finds changes of the store that have no audit entry:
// notices without their notice.publish entry or with more versions than
// notice.correct entries, and ENTs whose parents changed after the last
// directory entry. When retention purged the start of the log, changes
// older than the oldest entry kept are not checked.
func crossCheckAudit(ctx context.Context, st store.Store) ([]string, error) {
	var oldest time.Time // changes before it may have lost their entry to retention
	first := true
	published := map[string]bool{}
	corrections := map[string]int{}
	directory := map[string]time.Time{}
	err := st.ScanAudit(ctx, func(e store.AuditEntry) error {
		if first {
			first = false
			if e.Seq > 1 { // earlier entries were purged (audit retention)
				oldest = e.At
			}
		}
		switch e.Action {
		case "notice.publish":
			published[e.Target] = true
		case "notice.correct":
			corrections[e.Target]++
		case "parents.sync", "parents.upsert":
			if e.At.After(directory[e.Target]) {
				directory[e.Target] = e.At
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var gaps []string
	err = st.ScanNoticeStamps(ctx, func(n store.NoticeStamp) error {
		if n.CreatedAt.Before(oldest) {
			return nil
		}
		if !published[n.ID] {
			gaps = append(gaps, fmt.Sprintf("notice %s (created %s) has no notice.publish entry", n.ID, n.CreatedAt.Format(time.RFC3339)))
		} else if c := corrections[n.ID]; n.Version-1 > c {
			gaps = append(gaps, fmt.Sprintf("notice %s is at version %d but the log records %d correction(s)", n.ID, n.Version, c))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	stamps, err := st.DirectoryStamps(ctx)
	if err != nil {
		return nil, err
	}
	for _, ent := range slices.Sorted(maps.Keys(stamps)) {
		at := stamps[ent]
		if at.Before(oldest) || !at.After(directory[ent]) {
			continue
		}
		last := "none"
		if !directory[ent].IsZero() {
			last = directory[ent].Format(time.RFC3339Nano)
		}
		gaps = append(gaps, fmt.Sprintf("ENT %s: parents changed at %s, after its last directory entry (%s)", ent, at.Format(time.RFC3339Nano), last))
	}
	slices.Sort(gaps)
	return gaps, nil
}

type brokenEntryError struct {
	Entry store.AuditEntry
	Why   string
}

func (e *brokenEntryError) Error() string { return fmt.Sprintf("entry %d: %s", e.Entry.Seq, e.Why) }

// verifyAudit walks the chain oldest first. The first entry's PrevHash is
// the anchor (older entries may have been purged by retention).
func verifyAudit(ctx context.Context, st store.Store) (int, error) {
	n := 0
	var prev *store.AuditEntry
	err := st.ScanAudit(ctx, func(e store.AuditEntry) error {
		n++
		if prev != nil {
			if e.Seq != prev.Seq+1 {
				return &brokenEntryError{e, fmt.Sprintf("sequence jumps from %d (an entry was removed)", prev.Seq)}
			}
			if e.PrevHash != prev.Hash {
				return &brokenEntryError{*prev, "its hash no longer matches the one the next entry recorded (it was altered and re-hashed)"}
			}
		}
		if store.ChainHash(e.PrevHash, e) != e.Hash {
			return &brokenEntryError{e, "its content does not match its hash (the entry was altered)"}
		}
		p := e
		prev = &p
		return nil
	})
	return n, err
}
