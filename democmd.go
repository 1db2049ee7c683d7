package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/liaison-ent/liaison/admin"
	"github.com/liaison-ent/liaison/api"
	"github.com/liaison-ent/liaison/internal/config"
	"github.com/liaison-ent/liaison/internal/datadir"
	"github.com/liaison-ent/liaison/internal/delivery"
	"github.com/liaison-ent/liaison/internal/demo"
	"github.com/liaison-ent/liaison/internal/demoent"
	"github.com/liaison-ent/liaison/internal/store"
	"github.com/liaison-ent/liaison/parent"
	"github.com/liaison-ent/liaison/webpush"
)

// runDemo runs the service on a fresh embedded store (LIAISON_DATA_DIR/demo,
// wiped at each start) filled with demo data, and prints how to use it.
func runDemo(ctx context.Context, cfg config.Config, log *slog.Logger, stdout io.Writer) int {
	if !cfg.Embedded() {
		log.Error("liaison demo runs on the embedded store only: unset LIAISON_MONGODB_URI")
		return 2
	}
	cfg.DataDir = filepath.Join(cfg.DataDir, "demo")
	// The demo ENT's CAS server is this process, on the loopback: its
	// connector may reach it (a served Liaison reaches only public
	// addresses and LIAISON_CONNECTOR_ALLOWED_NETWORKS).
	cfg.ConnectorNetworks = strings.Trim(cfg.ConnectorNetworks+",127.0.0.0/8,::1/128", ",")
	// Held while the data dir is reset and seeded, so that a second demo
	// never wipes the files of one that runs; serve takes it again.
	lock, err := lockDataDir(cfg)
	if err != nil {
		log.Error("cannot run the demo", slog.Any("error", err))
		return 1
	}
	if err := resetDir(cfg.DataDir); err != nil {
		lock.Release()
		log.Error("cannot reset the demo data dir", slog.Any("error", err))
		return 1
	}
	push, err := demo.StartPush(cfg.PublicURL(), log)
	if err != nil {
		lock.Release()
		log.Error("cannot start the demo push service", slog.Any("error", err))
		return 1
	}
	defer push.Close()
	if cfg.DemoMozillaPush {
		// A push service for a real Firefox (browser tests): its
		// endpoints are allowed to the API and the delivery workers.
		moz, err := push.StartMozilla()
		if err != nil {
			lock.Release()
			log.Error("cannot start the demo Mozilla push service", slog.Any("error", err))
			return 1
		}
		cfg.PushAllowedHosts = demo.AllowHost(cfg.PushAllowedHosts, moz.Host())
	}
	st, err := openStore(ctx, cfg)
	if err != nil {
		lock.Release()
		log.Error("cannot open the store", slog.Any("error", err))
		return 1
	}
	now := time.Now()
	data, err := demo.Seed(ctx, st, now, cfg.PublicURL())
	if err == nil {
		err = push.Subscribe(ctx, st, data, now)
	}
	st.Close()
	lock.Release()
	if err != nil {
		log.Error("cannot seed demo data", slog.Any("error", err))
		return 1
	}
	data.Push = push
	if f := cfg.DemoCredentialsFile; f != "" {
		if err := writeDemoCredentials(f, data); err != nil {
			log.Error("cannot write demo credentials", slog.Any("error", err))
			return 1
		}
	}
	return serve(ctx, cfg, log, stdout, data, func(*api.Server) { printDemo(stdout, cfg, data) })
}

// resetDir empties dir but for its lock file.
func resetDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.Name() == datadir.FileName {
			continue
		}
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

// writeDemoCredentials writes the demo tokens as JSON (0600) for browser
// tests and scripts: LIAISON_DEMO_CREDENTIALS_FILE.
func writeDemoCredentials(path string, d *demo.Data) error {
	type ent struct {
		ID      string   `json:"id"`
		Name    string   `json:"name"`
		APIKey  string   `json:"api_key"`
		Parents []string `json:"parents"`
	}
	type mozilla struct {
		WebSocket string `json:"websocket"` // Firefox's dom.push.serverURL
		Status    string `json:"status"`    // what it relayed and what the browser acked
		Origin    string `json:"origin"`    // of the endpoints
	}
	out := struct {
		Accounts    []demo.Credential `json:"accounts"`
		ENTs        []ent             `json:"ents"`
		MozillaPush *mozilla          `json:"mozilla_push,omitempty"` // LIAISON_DEMO_MOZILLA_PUSH
	}{Accounts: d.Credentials}
	if d.Push != nil && d.Push.Mozilla() != nil {
		m := d.Push.Mozilla()
		out.MozillaPush = &mozilla{WebSocket: m.WebSocketURL(), Status: m.StatusURL(), Origin: m.URL()}
	}
	for _, e := range d.ENTs {
		out.ENTs = append(out.ENTs, ent{ID: e.ID, Name: e.Name, APIKey: e.APIKey, Parents: d.ParentIDs[e.ID]})
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o600)
}

// demoDelivery lets the delivery workers of `liaison demo` reach the
// demo's push-service stand-in: its one 127.0.0.1:port joins the endpoint
// allowlist and its certificate is trusted. It is the only way a loopback
// endpoint is allowed without LIAISON_PUSH_ALLOWED_HOSTS naming it:
// `liaison serve` (d nil) keeps the allowlist as configured.
func demoDelivery(d *demo.Data) func(*delivery.Options) error {
	if d == nil || d.Push == nil {
		return nil
	}
	return func(o *delivery.Options) error {
		allow, err := webpush.ParseAllowlist(o.Allow.String() + "," + d.Push.Host())
		if err != nil {
			return err
		}
		o.Allow = allow
		o.Client = webpush.NewHTTPClientTLS(o.Timeout, d.Push.TLSConfig())
		return nil
	}
}

// demoAccounts are the demo sign-ins the back-office lists (demo only).
func demoAccounts(d *demo.Data) []admin.DemoAccount {
	out := make([]admin.DemoAccount, len(d.Credentials))
	for i, c := range d.Credentials {
		out[i] = admin.DemoAccount{Label: c.Label, Role: c.Role, Token: c.Token}
	}
	return out
}

func printDemo(w io.Writer, cfg config.Config, d *demo.Data) {
	base := cfg.PublicURL()
	fmt.Fprintf(w, "\nLiaison demo is running on %s (data: %s, reset at each start)\n\n", base, cfg.DataDir)
	fmt.Fprintf(w, "Back-office: open %s/admin/ and sign in with one of the tokens below (or pick a demo account on the sign-in page).\n", base)
	fmt.Fprintf(w, "Parents:     open %s/demo/ent/ — a demo ENT page embedding the feed widget, switchable between parents.\n", base)
	if len(d.ENTs) > 0 {
		fmt.Fprintf(w, "Parent page: open %s/parent/%s/ — Liaison's own parent page; \"Se connecter par l'ENT\" signs in through the demo ENT's\n"+
			"             CAS server (pick a demo parent). The demo ENT page links to it (\"Informations de la commune\"), in a new tab or in its iframe.\n",
			base, url.PathEscape(d.ENTs[0].ID))
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "Try:\n  curl -H 'Authorization: Bearer %s' %s/v1/collectivites\n\n", d.Credentials[0].Token, base)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ACCOUNT\tROLE\tTOKEN")
	for _, c := range d.Credentials {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", c.Label, c.Role, c.Token)
	}
	for _, e := range d.ENTs {
		fmt.Fprintf(tw, "%s\tENT API key\t%s\n", e.Name, e.APIKey)
	}
	tw.Flush()
	if d.Push != nil {
		fmt.Fprintf(w, "\nPush: %d demo parents have subscribed to notifications on %d devices each; a local push service (%s) plays their browsers, which show\n"+
			"most notifications and open some. Publish a notice (e.g. as \"Agent transport, Val de Noye\", urgent) and open it in\n"+
			"%s/admin/informations: pushes accepted, shown and opened appear within seconds (normal notices wait for the end\n"+
			"of the quiet hours, 20:00-07:30).\n", d.Push.Subscribed(), demo.Devices, d.Push.URL(), base)
	}
	fmt.Fprintf(w, "\nHealth: %s/healthz   Metrics: %s/metrics   Stop: Ctrl-C\n", base, base)
}

// mountDemoENT serves the demo ENT page (/demo/ent/): the widget embedded
// as an ENT would, for the demo's parents.
func mountDemoENT(app *fiber.App, st store.Store, cfg config.Config, d *demo.Data, log *slog.Logger) {
	if err := demoent.Mount(app, demoent.Deps{Store: st, Data: d, BaseURL: cfg.PublicURL(), Log: log}); err != nil {
		log.Error("cannot serve the demo ENT page", slog.Any("error", err))
	}
}

// mountDemoParentSession serves /demo/parent/session?parent=ENT:USER
// (&iframe=1): it opens a parent page session for a parent of a
// registered ENT, as a connector's sign-in would, and goes to the page.
// Demo only, like the demo ENT's token route: `liaison serve` never
// mounts it.
func mountDemoParentSession(app *fiber.App, pg *parent.Page) {
	app.Get("/demo/parent/session", func(c *fiber.Ctx) error {
		entID, user, _ := strings.Cut(c.Query("parent"), ":")
		if err := pg.StartSession(c, entID, user, c.Query("iframe") == "1", ""); err != nil {
			return c.SendStatus(fiber.StatusNotFound)
		}
		return c.Redirect(parent.Prefix+url.PathEscape(entID)+"/", fiber.StatusSeeOther)
	})
}
