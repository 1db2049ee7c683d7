package main

import (
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/websocket"

	"github.com/liaison-ent/liaison/internal/config"
	"github.com/liaison-ent/liaison/internal/demoent"
	"github.com/liaison-ent/liaison/webpush/pushtest"
)

type mozDemoCreds struct {
	Accounts []struct {
		Label string `json:"label"`
		Token string `json:"token"`
	} `json:"accounts"`
	ENTs []struct {
		ID     string `json:"id"`
		APIKey string `json:"api_key"`
	} `json:"ents"`
	MozillaPush *struct {
		WebSocket string `json:"websocket"`
		Status    string `json:"status"`
		Origin    string `json:"origin"`
	} `json:"mozilla_push"`
}

func startDemoFor(t *testing.T, e map[string]string) (base string, creds mozDemoCreds, stop func()) {
	t.Helper()
	dir := t.TempDir()
	addr := freeAddr(t)
	base = "http://" + addr
	credFile := filepath.Join(dir, "creds.json")
	vars := map[string]string{"LIAISON_DATA_DIR": dir, "LIAISON_ADDR": addr, "LIAISON_DEMO_CREDENTIALS_FILE": credFile, "LIAISON_RATE_LIMIT": "0"}
	for k, v := range e {
		vars[k] = v
	}
	cfg, err := config.FromEnv(env(vars))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() { done <- runDemo(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), io.Discard) }()
	waitUp(t, base, done)
	raw, err := os.ReadFile(credFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &creds); err != nil {
		t.Fatal(err)
	}
	return base, creds, func() { stopServer(t, cancel, done) }
}

// mozSubscribe plays Firefox on the demo's Mozilla push service (hello,
// register with the demo's VAPID key) and returns the WebSocket, the
// channel and the endpoint it was given.
func mozSubscribe(t *testing.T, wsURL, vapidKey string) (*websocket.Conn, string, string) {
	t.Helper()
	cfg, err := websocket.NewConfig(wsURL, "http://127.0.0.1/")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Protocol = []string{pushtest.MozillaSubprotocol}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := cfg.DialContext(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	recv := func() map[string]any {
		t.Helper()
		_ = conn.SetReadDeadline(time.Now().Add(60 * time.Second))
		var m map[string]any
		if err := websocket.JSON.Receive(conn, &m); err != nil {
			t.Fatalf("receive: %v", err)
		}
		return m
	}
	if err := websocket.JSON.Send(conn, map[string]any{"messageType": "hello", "use_webpush": true}); err != nil {
		t.Fatal(err)
	}
	if r := recv(); r["messageType"] != "hello" || r["status"] != float64(200) {
		t.Fatalf("hello: %v", r)
	}
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	ch := fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
	if err := websocket.JSON.Send(conn, map[string]any{"messageType": "register", "channelID": ch, "key": vapidKey}); err != nil {
		t.Fatal(err)
	}
	r := recv()
	ep, _ := r["pushEndpoint"].(string)
	if r["status"] != float64(200) || ep == "" {
		t.Fatalf("register: %v", r)
	}
	return conn, ch, ep
}

// TestDemoMozillaPushReachesAFirefoxSubscription: with
// LIAISON_DEMO_MOZILLA_PUSH, `liaison demo` names its Mozilla-protocol
// push service in the credentials file; a parent's subscription at one of
// its endpoints is accepted by the API (its host is allowed), and a notice
// published for that parent is posted there over TLS (its certificate is
// trusted) and relayed over the WebSocket. Without the variable the demo
// names no such service.
func TestDemoMozillaPushReachesAFirefoxSubscription(t *testing.T) {
	_, plain, stopPlain := startDemoFor(t, nil)
	stopPlain()
	if plain.MozillaPush != nil {
		t.Fatalf("without LIAISON_DEMO_MOZILLA_PUSH the demo names a Mozilla push service: %+v", plain.MozillaPush)
	}

	base, creds, stop := startDemoFor(t, map[string]string{"LIAISON_DEMO_MOZILLA_PUSH": "1"})
	defer stop()
	moz := creds.MozillaPush
	if moz == nil || !strings.HasPrefix(moz.WebSocket, "ws://127.0.0.1:") || !strings.HasPrefix(moz.Origin, "https://127.0.0.1:") {
		t.Fatalf("credentials do not name the Mozilla push service: %+v", moz)
	}
	var key struct {
		PublicKey string `json:"public_key"`
	}
	if st := httpDo(t, "GET", base+"/v1/push/vapid-public-key", "", nil, &key); st != 200 || key.PublicKey == "" {
		t.Fatalf("vapid key: %d %+v", st, key)
	}
	conn, ch, endpoint := mozSubscribe(t, moz.WebSocket, key.PublicKey)
	if !strings.HasPrefix(endpoint, moz.Origin+"/") {
		t.Fatalf("endpoint %s is not at %s", endpoint, moz.Origin)
	}

	ent := creds.ENTs[0]
	parent := "go-firefox-parent"
	if st := httpDo(t, "PUT", base+"/v1/ent/parents", ent.APIKey, map[string]any{"parents": []any{map[string]any{
		"ent_user_id": parent, "children": []any{map[string]any{"uai": "0801001D", "level": "maternelle", "class": "GS"}}}}}, nil); st != 200 {
		t.Fatalf("sync: %d", st)
	}
	res, err := http.Get(base + demoent.Path + "token?parent=" + ent.ID + ":" + parent)
	if err != nil {
		t.Fatal(err)
	}
	jwt, _ := io.ReadAll(res.Body)
	res.Body.Close()
	priv, _ := ecdh.P256().GenerateKey(rand.Reader)
	auth := make([]byte, 16)
	_, _ = rand.Read(auth)
	sub := map[string]any{"endpoint": endpoint, "keys": map[string]string{
		"p256dh": base64.RawURLEncoding.EncodeToString(priv.PublicKey().Bytes()), "auth": base64.RawURLEncoding.EncodeToString(auth)}}
	if st := httpDo(t, "POST", base+"/v1/me/push-subscriptions", string(jwt), sub, nil); st != http.StatusCreated {
		t.Fatalf("subscription at the Mozilla push service: %d, want 201", st)
	}

	agent := ""
	for _, a := range creds.Accounts {
		if a.Label == "Agent elus, Saint-Fuscien" {
			agent = a.Token
		}
	}
	if st := httpDo(t, "POST", base+"/v1/notices", agent, map[string]any{
		"category": "alerte", "priority": "urgent", "title": "Alerte : école fermée demain", "body": "Tempête annoncée.",
		"audience": map[string]any{"schools": []string{"0801001D"}}, "push": true,
		"expires_at": time.Now().Add(6 * time.Hour).UTC().Format(time.RFC3339)}, nil); st != http.StatusCreated {
		t.Fatalf("publish: %d", st)
	}
	_ = conn.SetReadDeadline(time.Now().Add(60 * time.Second))
	var n map[string]any
	if err := websocket.JSON.Receive(conn, &n); err != nil {
		t.Fatalf("no notification relayed: %v", err)
	}
	if n["messageType"] != "notification" || n["channelID"] != ch || n["data"] == "" {
		t.Fatalf("relayed %v", n)
	}
}
