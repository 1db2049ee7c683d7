package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/liaison-ent/liaison/api"
	"github.com/liaison-ent/liaison/internal/config"
	"github.com/liaison-ent/liaison/internal/demo"
	"github.com/liaison-ent/liaison/internal/demoent"
	"github.com/liaison-ent/liaison/internal/store/sqlite"
)

// httpDo sends a request to the test server and decodes a JSON answer into
// out (when not nil); it returns the status.
func httpDo(t *testing.T, method, url, token string, body any, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, url, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	c := &http.Client{Timeout: 10 * time.Second}
	res, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if out != nil && res.StatusCode < 300 {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v\n%s", method, url, err, b)
		}
	}
	if res.StatusCode >= 300 && out != nil {
		t.Logf("%s %s: %d %s", method, url, res.StatusCode, b)
	}
	return res.StatusCode
}

// waitUp waits (bounded) for the server at base to answer /healthz.
func waitUp(t *testing.T, base string, done <-chan int) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case code := <-done:
			t.Fatalf("the server stopped at start: %d", code)
		default:
		}
		if res, err := http.Get(base + "/healthz"); err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("the server did not start within 60 s")
}

// stopServer ends ctx and waits (bounded) for the command to return 0.
func stopServer(t *testing.T, cancel context.CancelFunc, done <-chan int) {
	t.Helper()
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("exited %d", code)
		}
	case <-time.After(30 * time.Second):
		t.Error("did not stop within 30 s")
	}
}

// demoCreds is what `liaison demo` writes to its credentials file.
type demoCreds struct {
	Accounts []demo.Credential `json:"accounts"`
	ENTs     []struct {
		ID      string   `json:"id"`
		Parents []string `json:"parents"`
	} `json:"ents"`
}

// runningDemo is a `liaison demo` started by startDemo.
type runningDemo struct {
	base  string
	out   *syncBuffer // what it printed
	creds demoCreds
}

// startDemo runs `liaison demo` on a free loopback address and a fresh
// data dir, waits until it answers and reads its credentials file. At the
// end of the test it is stopped and must have returned 0 (within 30 s).
func startDemo(t *testing.T) runningDemo {
	t.Helper()
	dir := t.TempDir()
	addr := freeAddr(t)
	d := runningDemo{base: "http://" + addr, out: &syncBuffer{}}
	credFile := filepath.Join(dir, "creds.json")
	cfg, err := config.FromEnv(env(map[string]string{"LIAISON_DATA_DIR": dir, "LIAISON_ADDR": addr, "LIAISON_DEMO_CREDENTIALS_FILE": credFile}))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() { done <- runDemo(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), d.out) }()
	t.Cleanup(cancel)
	waitUp(t, d.base, done)
	t.Cleanup(func() { stopServer(t, cancel, done) })

	raw, err := os.ReadFile(credFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &d.creds); err != nil {
		t.Fatal(err)
	}
	return d
}

type pushStats struct {
	Pushes *struct {
		Targeted statFigure `json:"targeted"`
		Accepted statFigure `json:"accepted"`
	} `json:"pushes"`
	Failed  map[string]statFigure `json:"failed"`
	Shown   *statFigure           `json:"shown"`
	Clicked *statFigure           `json:"clicked"`
}

// statFigure is a figure of /stats: null when the small-group rule
// withholds it, with a label either way.
type statFigure struct {
	Value *int   `json:"value"`
	Label string `json:"label"`
}

// n is the figure's value, -1 when withheld.
func (f *statFigure) n() int {
	if f == nil || f.Value == nil {
		return -1
	}
	return *f.Value
}

// some: the figure is above 0 — given, or withheld as "moins de 5".
func (f *statFigure) some() bool { return f != nil && (f.n() > 0 || f.Label == "moins de 5") }

// publishUrgentTransport publishes, as the EPCI's transport agent, an
// urgent notice (urgent: no quiet hours) to every demo school and returns
// its id.
func publishUrgentTransport(t *testing.T, base, token string) string {
	t.Helper()
	var ans struct {
		Notice struct {
			ID string `json:"id"`
		} `json:"notice"`
	}
	st := httpDo(t, "POST", base+"/v1/notices", token, map[string]any{
		"category": "transport", "priority": "urgent", "title": "Ligne S12 : car supprimé cet après-midi",
		"body":       "Le car de la ligne S12 ne circulera pas cet après-midi.",
		"audience":   map[string]any{"schools": []string{"0801001D", "0801002E", "0801003F", "0801004G", "0801005H", "0801006J"}},
		"expires_at": time.Now().Add(6 * time.Hour).UTC().Format(time.RFC3339), "push": true,
	}, &ans)
	if st != http.StatusCreated || ans.Notice.ID == "" {
		t.Fatalf("publish: %d %+v", st, ans)
	}
	return ans.Notice.ID
}

func tokenOf(t *testing.T, creds []demo.Credential, label string) string {
	t.Helper()
	for _, c := range creds {
		if c.Label == label {
			return c.Token
		}
	}
	t.Fatalf("no demo account %q", label)
	return ""
}

// statsUntil polls the notice's stats (every 250 ms, for at most 90 s)
// until done is true of them; past the deadline the test fails naming
// what it waited for and what it saw last.
func statsUntil(t *testing.T, base, id, token, waitingFor string, done func(pushStats) bool) pushStats {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		var s pushStats
		if st := httpDo(t, "GET", base+"/v1/notices/"+id+"/stats", token, nil, &s); st != 200 {
			t.Fatalf("stats: %d", st)
		}
		if done(s) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 90 s, still not %s: pushes %+v failed %v shown %v clicked %v", waitingFor, s.Pushes, s.Failed, s.Shown, s.Clicked)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// TestDemoShowsPushWorking runs `liaison demo` as a newcomer would,
// publishes a notice and sees, within a bounded time, pushes accepted by
// the demo's push service and notifications shown and opened by the demo
// browsers in the notice's stats. The demo also prints where to look, and
// serves its ENT page's token endpoint.
func TestDemoShowsPushWorking(t *testing.T) {
	d := startDemo(t)
	base, creds := d.base, d.creds
	id := publishUrgentTransport(t, base, tokenOf(t, creds.Accounts, "Agent transport, Val de Noye"))
	admin := tokenOf(t, creds.Accounts, "Administratrice, Val de Noye")

	s := statsUntil(t, base, id, admin, "pushes accepted, shown and clicked", func(s pushStats) bool {
		seen := s.Pushes != nil && s.Pushes.Accepted.n() > 0 && s.Shown.some() && s.Clicked.some()
		if !seen && len(s.Failed) > 0 {
			t.Fatalf("pushes failed in the demo: pushes %+v failed %v", s.Pushes, s.Failed)
		}
		return seen
	})
	t.Logf("demo: pushes %+v shown %+v clicked %+v", s.Pushes, *s.Shown, *s.Clicked)
	if s.Shown.n() > s.Pushes.Accepted.n() || s.Clicked.n() > s.Shown.n() && s.Shown.n() >= 0 {
		t.Errorf("accepted %+v, shown %+v, clicked %+v: more shown than accepted or opened than shown", s.Pushes.Accepted, *s.Shown, *s.Clicked)
	}
	if len(s.Failed) != 0 {
		t.Errorf("failed pushes in the demo: %v", s.Failed)
	}
	printed := d.out.String()
	for _, want := range []string{"Push: ", "demo parents have subscribed", base + "/admin/informations"} {
		if !strings.Contains(printed, want) {
			t.Errorf("the demo does not print %q:\n%s", want, printed)
		}
	}
	// The demo ENT page's token endpoint mints a token for a parent the
	// ENT has synced — and for nobody else.
	e := creds.ENTs[0]
	for user, want := range map[string]int{e.Parents[0]: 200, "demo-1-0150": 200, "demo-1-9999": 404, "anyone": 404} {
		res, err := http.Get(base + demoent.Path + "token?parent=" + e.ID + ":" + user)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != want {
			t.Errorf("demo token endpoint for %q: %d, want %d", user, res.StatusCode, want)
		}
		if want == 200 && strings.Count(string(b), ".") != 2 {
			t.Errorf("demo token endpoint for %q: %q is not a JWT", user, b)
		}
	}
}

// TestServeHasNoDemoPushNorDemoENT: `liaison serve` on a store holding the
// demo's data and subscriptions to a push service on 127.0.0.1 sends
// nothing there (loopback endpoints are allowed in the demo only), and has
// no demo ENT page or token endpoint (404).
func TestServeHasNoDemoPushNorDemoENT(t *testing.T) {
	dir := t.TempDir()
	addr := freeAddr(t)
	base := "http://" + addr
	cfg, err := config.FromEnv(env(map[string]string{"LIAISON_DATA_DIR": dir, "LIAISON_ADDR": addr}))
	if err != nil {
		t.Fatal(err)
	}
	push, err := demo.StartPush(base, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer push.Close()
	st, err := sqlite.Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	data, err := demo.Seed(context.Background(), st, now, base)
	if err == nil {
		err = push.Subscribe(context.Background(), st, data, now)
	}
	st.Close()
	if err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	go func() {
		done <- serve(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), io.Discard, nil, func(*api.Server) {})
	}()
	waitUp(t, base, done)

	e := data.ENTs[0]
	service := url.QueryEscape(base + "/parent/" + e.ID + "/cas")
	for _, path := range []string{demoent.Path, demoent.Path + "token?parent=" + e.ID + ":" + data.ParentIDs[e.ID][0], demoent.Path + "app.js",
		// The demo's parent sign-in without a connector: anyone would open
		// any parent's session (review of issue 11, item 13).
		"/demo/parent/session?parent=" + e.ID + ":" + data.ParentIDs[e.ID][0],
		// The demo ENT's CAS server.
		demoent.CASPath + "/login?service=" + service, demoent.CASPath + "/login?service=" + service + "&user=" + data.ParentIDs[e.ID][0],
		demoent.CASPath + "/serviceValidate?ticket=ST-1&service=" + service, demoent.CASPath + "/p3/serviceValidate?ticket=ST-1&service=" + service} {
		res, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusNotFound {
			t.Errorf("serve answers GET %s with %d: %.80s", path, res.StatusCode, b)
		}
	}

	var agent, admin string
	for _, c := range data.Credentials {
		switch c.Label {
		case "Agent transport, Val de Noye":
			agent = c.Token
		case "Administratrice, Val de Noye":
			admin = c.Token
		}
	}
	id := publishUrgentTransport(t, base, agent)
	// A reason is listed only once a push failed for it.
	s := statsUntil(t, base, id, admin, "the pushes to 127.0.0.1 refused", func(s pushStats) bool { return len(s.Failed) > 0 })
	t.Logf("serve: pushes %+v failed %v", s.Pushes, s.Failed)
	if s.Pushes.Accepted.n() != 0 {
		t.Errorf("serve pushed to the loopback stand-in (or the figure is withheld): %+v", s.Pushes)
	}
	if sh, cl := push.Receipts(); sh != 0 || cl != 0 {
		t.Errorf("receipts from the loopback stand-in under serve: %d shown, %d clicked", sh, cl)
	}
	stopServer(t, cancel, done)
}
