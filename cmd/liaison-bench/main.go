// Command liaison-bench measures Liaison's API on the embedded store, each
// figure beside a baseline measured in the same run on the same machine:
//
//   - directory sync: 100,000 parents through PUT /v1/ent/parents (HTTP on
//     127.0.0.1), beside the same parents written straight into the store;
//   - publication: POST /v1/notices at a fixed rate (open loop, latency
//     counted from the intended send time), beside GET /healthz at the same
//     rate.
//
// It binds 127.0.0.1 only, runs a bounded number of requests and stops by
// itself. Run it with `make bench`.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"runtime/pprof"
	"slices"
	"sync"
	"time"

	"github.com/liaison-ent/liaison/api"
	"github.com/liaison-ent/liaison/conventions"
	"github.com/liaison-ent/liaison/internal/frenchid"
	"github.com/liaison-ent/liaison/internal/store"
	"github.com/liaison-ent/liaison/internal/store/sqlite"
)

func main() {
	parents := flag.Int("parents", 100000, "parents to sync")
	batch := flag.Int("batch", 10000, "parents per PUT")
	rate := flag.Int("rate", 200, "publications per second")
	seconds := flag.Int("seconds", 10, "duration of each rate test")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	only := flag.String("only", "", "run one part only: api (sync and publication) or feed")
	feedParents := flag.Int("feed-parents", 50000, "feed: parents in the directory")
	feedSchools := flag.Int("feed-schools", 300, "feed: schools")
	feedNotices := flag.Int("feed-notices", 20000, "feed: notices published over the past year")
	feedHot := flag.Int("feed-hot", 5000, "feed: parents polling at the peak (widgets open)")
	feedConc := flag.Int("feed-concurrency", 64, "feed: concurrent connections")
	feedRounds := flag.Int("feed-rounds", 3, "feed: each closed-loop row this many times, the rows in turn; each row shows its median round by p99 and every round's p99")
	feedProfile := flag.String("feed-cpuprofile", "", "feed: write a CPU profile of each row (not the setup) to this path + .shared1 (healthz), .shared2 (polling), .shared3 (304), .shared4 (cold), .shared-open1 to 4 for the open loop's rows (.split… for -feed-split's); with -feed-rounds, the first round's")
	heapProfile := flag.String("feed-heapprofile", "", "feed: write a heap profile of the server process after the feed runs to this file")
	enrol := flag.Bool("feed-enrolments", false, "feed: the ENT's directory gives each child's enrolments (canteen, transport and its line, childcare…)")
	split := flag.Bool("feed-split", false, "feed: also run with the server and the load generator each on a CPU of its own (taskset)")
	rateShare := flag.Float64("feed-rate-share", 0.25, "feed: after the closed loop, the same rows in an open loop (constant rate, latency from each request's scheduled time) at this share of /healthz's req/s; 0: none")
	loader := flag.String("loader", "auto", "feed: load generator: wrk (Debian's package), go (this binary's own), or auto (wrk when installed)")
	load := flag.String("load", "", "internal: run as the load generator process of this plan file")
	serve := flag.String("serve", "", "internal: run as the feed bench's server process, on the store in this directory")
	flag.Parse()
	if *serve != "" {
		if err := serveMain(*serve); err != nil {
			fmt.Fprintln(os.Stderr, "liaison-bench server:", err)
			os.Exit(1)
		}
		return
	}
	if *load != "" {
		if err := loaderMain(*load); err != nil {
			fmt.Fprintln(os.Stderr, "liaison-bench loader:", err)
			os.Exit(1)
		}
		return
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "liaison-bench:", err)
			os.Exit(1)
		}
		_ = pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	fail := func(err error) {
		pprof.StopCPUProfile()
		fmt.Fprintln(os.Stderr, "liaison-bench:", err)
		os.Exit(1)
	}
	if *only == "" || *only == "api" {
		if err := run(*parents, *batch, *rate, *seconds); err != nil {
			fail(err)
		}
	}
	if *only == "" || *only == "feed" {
		dir, err := os.MkdirTemp("", "liaison-bench-feed-")
		if err != nil {
			fail(err)
		}
		defer os.RemoveAll(dir)
		if err := feedBench(dir, feedOptions{Parents: *feedParents, Schools: *feedSchools, Notices: *feedNotices, Hot: *feedHot,
			Concurrency: *feedConc, Seconds: *seconds, Rounds: *feedRounds, Loader: *loader, CPUProfile: *feedProfile, HeapProfile: *heapProfile,
			Split: *split, Enrol: *enrol, RateShare: *rateShare}); err != nil {
			fail(err)
		}
	}
}

// world is a running API on a fresh embedded store.
type world struct {
	base     string
	st       store.Store
	app      *api.Server
	operator string
	entKey   string
	entID    string
	agent    string
	schools  []string
	client   *http.Client
}

func newWorld(dir string) (*world, error) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, dir)
	if err != nil {
		return nil, err
	}
	cfg, err := benchConfig()
	if err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := api.New(api.Deps{Store: st, Config: cfg, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	go func() { _ = srv.App.Listener(l) }()
	w := &world{base: "http://" + l.Addr().String(), st: st, app: srv,
		client: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 256, MaxConnsPerHost: 256}}}
	now := time.Now().UTC().Truncate(time.Millisecond)
	for i := 0; i < 2; i++ {
		tok := api.NewStaffToken()
		acc := store.Account{ID: store.NewID("acc", now), Role: store.RoleOperator, Name: fmt.Sprintf("Bench %d", i), TokenHash: store.HashToken(tok), CreatedAt: now}
		if err := st.CreateAccount(ctx, acc, store.AuditEntry{At: now, Actor: "bench", Action: "account.create", Target: acc.ID}); err != nil {
			return nil, err
		}
		if i == 0 {
			w.operator = tok
		}
	}
	return w, w.setup()
}

func (w *world) close() {
	_ = w.app.App.ShutdownWithTimeout(5 * time.Second)
	w.st.Close()
}

func (w *world) call(method, path, token string, body any, want int, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, w.base+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := w.client.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != want {
		return fmt.Errorf("%s %s: %d %s", method, path, res.StatusCode, b)
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

// setup registers a commune with six schools, its admins, an ENT, a
// convention without daily quota and a canteen agent, all through the API.
func (w *world) setup() error {
	var col struct{ ID string }
	if err := w.call("POST", "/v1/collectivites", w.operator, map[string]any{"kind": "commune", "name": "Saint-Fuscien", "insee": "80702"}, 201, &col); err != nil {
		return err
	}
	for i := 1; i <= 6; i++ {
		uai := worldSchoolUAI(i)
		level := "maternelle"
		if i%2 == 0 {
			level = "elementaire"
		}
		if err := w.call("POST", "/v1/schools", w.operator, map[string]any{"uai": uai, "name": fmt.Sprintf("École %d", i), "commune": "80702", "level": level}, 201, nil); err != nil {
			return err
		}
		w.schools = append(w.schools, uai)
	}
	var admin struct{ Token string }
	for i := 0; i < 2; i++ {
		if err := w.call("POST", "/v1/accounts", w.operator, map[string]any{"role": "admin", "name": fmt.Sprintf("Admin %d", i), "collectivite_id": col.ID}, 201, &admin); err != nil {
			return err
		}
	}
	var ent struct {
		ID     string `json:"id"`
		APIKey string `json:"api_key"`
	}
	if err := w.call("POST", "/v1/ents", w.operator, map[string]any{"name": "ENT", "origins": []string{"https://ent.example.fr"}, "schools": w.schools, "key_alg": "HS256"}, 201, &ent); err != nil {
		return err
	}
	w.entKey, w.entID = ent.APIKey, ent.ID
	var conv struct{ ID string }
	today := time.Now().AddDate(0, -1, 0).Format("2006-01-02")
	if err := w.call("POST", "/v1/conventions", w.operator, map[string]any{
		"collectivite_id": col.ID, "schools": w.schools, "valid_from": today, "valid_until": "2099-12-31",
		"signatories": []map[string]any{
			{"role": "maire", "name": "Maire", "signed_at": today}, {"role": "ien", "name": "IEN", "signed_at": today},
			{"role": "operateur", "name": "Opérateur", "signed_at": today}},
		"limits": map[string]any{"max_validity_days": 31},
		"rules":  []map[string]any{{"article": "1", "services": []string{"restauration"}, "categories": []string{"cantine"}, "push": true}},
	}, 201, &conv); err != nil {
		return err
	}
	if err := w.call("POST", "/v1/conventions/"+conv.ID+"/activate", w.operator, nil, 200, nil); err != nil {
		return err
	}
	var agent struct{ Token string }
	if err := w.call("POST", "/v1/accounts", admin.Token, map[string]any{"role": "agent", "name": "Cantine", "services": []string{"restauration"}}, 201, &agent); err != nil {
		return err
	}
	w.agent = agent.Token
	return nil
}

// worldSchoolUAI is the UAI of the i-th school (1 to 6) of the bench's
// commune.
func worldSchoolUAI(i int) string {
	digits := fmt.Sprintf("08010%02d", i)
	return digits + string(frenchid.UAICheckLetter(digits))
}

type child struct {
	UAI   string `json:"uai"`
	Level string `json:"level"`
	Class string `json:"class"`
	// Enrolment: what the ENT knows of the child's enrolments (feed bench
	// with -feed-enrolments; absent: all unknown).
	Enrolment map[string]any `json:"enrolment,omitempty"`
}

type parent struct {
	ID       string  `json:"ent_user_id"`
	Children []child `json:"children"`
}

func makeParents(n int, schools []string) []parent {
	rng := rand.New(rand.NewPCG(1, 2))
	out := make([]parent, n)
	for i := range out {
		k := 1 + rng.IntN(2)
		p := parent{ID: fmt.Sprintf("parent-%07d", i)}
		for j := 0; j < k; j++ {
			s := rng.IntN(len(schools))
			level, class := "maternelle", []string{"PS", "MS", "GS"}[rng.IntN(3)]
			if s%2 == 1 {
				level, class = "elementaire", []string{"CP", "CE1", "CE2", "CM1", "CM2"}[rng.IntN(5)]
			}
			p.Children = append(p.Children, child{UAI: schools[s], Level: level, Class: class})
		}
		out[i] = p
	}
	return out
}

func run(nParents, batch, rate, seconds int) error {
	dir, err := os.MkdirTemp("", "liaison-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	// Directory sync through the API.
	w, err := newWorld(dir + "/api")
	if err != nil {
		return err
	}
	defer w.close()
	parents := makeParents(nParents, w.schools)
	start := time.Now()
	for i := 0; i < len(parents); i += batch {
		end := min(i+batch, len(parents))
		if err := w.call("PUT", "/v1/ent/parents", w.entKey, map[string]any{"parents": parents[i:end]}, 200, nil); err != nil {
			return err
		}
	}
	apiSync := time.Since(start)

	// Baseline: the same parents straight into a fresh store.
	base, err := sqlite.Open(context.Background(), dir+"/baseline")
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	sp := make([]store.Parent, len(parents))
	for i, p := range parents {
		cs := make([]store.Child, len(p.Children))
		for j, c := range p.Children {
			cs[j] = store.Child{UAI: c.UAI, Level: conventions.Level(c.Level), Class: c.Class}
		}
		sp[i] = store.Parent{ENTID: w.entID, ENTUserID: p.ID, Children: cs, UpdatedAt: now}
	}
	start = time.Now()
	for i := 0; i < len(sp); i += batch {
		end := min(i+batch, len(sp))
		if _, err := base.UpsertParents(context.Background(), w.entID, sp[i:end], now, store.AuditEntry{At: now, Actor: "bench", Action: "parents.sync"}); err != nil {
			return err
		}
	}
	storeSync := time.Since(start)
	base.Close()

	fmt.Printf("\n%-48s %14s %14s\n", "directory sync ("+fmt.Sprint(nParents)+" parents)", "parents/s", "total")
	fmt.Printf("%-48s %14.0f %14s\n", "PUT /v1/ent/parents (HTTP, 127.0.0.1)", float64(nParents)/apiSync.Seconds(), apiSync.Round(time.Millisecond))
	fmt.Printf("%-48s %14.0f %14s\n", "baseline: store.UpsertParents (no HTTP/JSON)", float64(nParents)/storeSync.Seconds(), storeSync.Round(time.Millisecond))
	fmt.Printf("%-48s %14s\n", "target (issue 2)", "≥ 5000")

	// Publication at a fixed rate, beside /healthz at the same rate.
	n := rate * seconds
	expires := time.Now().Add(48 * time.Hour).Format(time.RFC3339)
	publish := func(i int) (*http.Request, error) {
		body, _ := json.Marshal(map[string]any{"category": "cantine", "title": fmt.Sprintf("Menu de la semaine n° %d", i),
			"body": "Les menus de la semaine.", "audience": map[string]any{"schools": w.schools[:2]}, "expires_at": expires})
		req, err := http.NewRequest("POST", w.base+"/v1/notices", bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+w.agent)
		return req, nil
	}
	health := func(int) (*http.Request, error) { return http.NewRequest("GET", w.base+"/healthz", nil) }
	hs, err := openLoop(w.client, health, rate, n, 200)
	if err != nil {
		return err
	}
	ps, err := openLoop(w.client, publish, rate, n, 201)
	if err != nil {
		return err
	}
	w.client.CloseIdleConnections()
	fmt.Printf("\n%-48s %8s %8s %8s %8s %8s %7s\n", fmt.Sprintf("open loop, %d req/s for %d s", rate, seconds), "req/s", "p50", "p90", "p99", "max", "errors")
	ps.print("POST /v1/notices (convention decided, stored)")
	hs.print("baseline: GET /healthz")
	fmt.Printf("%-48s %8s %8s %8s %8s\n", "target (issue 3)", fmt.Sprint(rate), "", "", "≤ 20ms")
	return nil
}

type stats struct {
	achieved           float64
	p50, p90, p99, max time.Duration
	errors             int
}

func (s stats) print(label string) {
	ms := func(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d.Microseconds())/1000) }
	fmt.Printf("%-48s %8.0f %8s %8s %8s %8s %7d\n", label, s.achieved, ms(s.p50), ms(s.p90), ms(s.p99), ms(s.max), s.errors)
}

// openLoop sends n requests at rate per second on schedule, whatever the
// answers' latency, and measures each from its intended send time.
func openLoop(c *http.Client, mk func(int) (*http.Request, error), rate, n, want int) (stats, error) {
	interval := time.Second / time.Duration(rate)
	lat := make([]time.Duration, n)
	var errs int
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := time.Now()
	for i := 0; i < n; i++ {
		due := start.Add(time.Duration(i) * interval)
		time.Sleep(time.Until(due))
		req, err := mk(i)
		if err != nil {
			return stats{}, err
		}
		wg.Add(1)
		go func(i int, due time.Time) {
			defer wg.Done()
			res, err := c.Do(req)
			ok := err == nil && res.StatusCode == want
			if err == nil {
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
			}
			lat[i] = time.Since(due)
			if !ok {
				mu.Lock()
				errs++
				mu.Unlock()
			}
		}(i, due)
	}
	wg.Wait()
	total := time.Since(start)
	slices.Sort(lat)
	q := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
	return stats{achieved: float64(n) / total.Seconds(), p50: q(0.50), p90: q(0.90), p99: q(0.99), max: lat[len(lat)-1], errors: errs}, nil
}
