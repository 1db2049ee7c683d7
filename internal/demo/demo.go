// Package demo seeds a store with realistic demo data: an EPCI of three
// communes in the Somme, six schools, two ENTs, a few hundred parents, an
// operator pair, admin pairs and agents of every service. Names and numbers
// are invented; identifiers are valid.
package demo

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	mrand "math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/liaison-ent/liaison/api"
	"github.com/liaison-ent/liaison/conventions"
	"github.com/liaison-ent/liaison/internal/connect/cas"
	"github.com/liaison-ent/liaison/internal/store"
)

// Credential is one demo login, printed at start.
type Credential struct {
	Label          string   `json:"label"`
	Role           string   `json:"role"`
	Name           string   `json:"name"`
	CollectiviteID string   `json:"collectivite_id,omitempty"`
	Services       []string `json:"services,omitempty"`
	AccountID      string   `json:"account_id"`
	Token          string   `json:"token"`
}

// Data is what Seed made that a person needs to try Liaison.
type Data struct {
	Credentials []Credential
	// ENTs with their API key and the key material to mint parent tokens.
	ENTs []ENT
	// ParentIDs are a few synced parents, per ENT, for the demo ENT page.
	ParentIDs map[string][]string
	// AllParentIDs are every synced parent, per ENT.
	AllParentIDs map[string][]string
	EPCI         store.Collectivite
	Communes     []store.Collectivite
	Schools      []store.School
	// Conventions: Saint-Fuscien (active), Boves (suspended), Cagny
	// (expired), the EPCI's transport one (active).
	Conventions []conventions.Convention
	// Notices: a week of realistic notices.
	Notices []store.Notice
	// Push is the demo's push service and browsers (nil when not started,
	// see StartPush).
	Push *Push
}

// ENT is a demo ENT integration.
type ENT struct {
	store.ENT
	APIKey     string
	PrivateKey *ecdsa.PrivateKey // for ES256 ENTs
}

// Demo collectivités and schools.
var (
	communes = []struct{ INSEE, Name string }{
		{"80702", "Saint-Fuscien"},
		{"80116", "Boves"},
		{"80162", "Cagny"},
	}
	schools = []store.School{
		{UAI: "0801001D", Name: "École maternelle Les Coquelicots", Commune: "80702", Level: store.LevelMaternelle},
		{UAI: "0801002E", Name: "École élémentaire Jules Ferry", Commune: "80702", Level: store.LevelElementaire},
		{UAI: "0801003F", Name: "École maternelle Le Petit Prince", Commune: "80116", Level: store.LevelMaternelle},
		{UAI: "0801004G", Name: "École élémentaire Louise Michel", Commune: "80116", Level: store.LevelElementaire},
		{UAI: "0801005H", Name: "École maternelle Les Tilleuls", Commune: "80162", Level: store.LevelMaternelle},
		{UAI: "0801006J", Name: "École élémentaire Jean Jaurès", Commune: "80162", Level: store.LevelElementaire},
	}
	classesByLevel = map[conventions.Level][]string{
		store.LevelMaternelle:  {"PS", "MS", "GS"},
		store.LevelElementaire: {"CP", "CE1", "CE2", "CM1", "CM2"},
	}
	services = conventions.Services
)

// ParentsPerENT is how many parents each demo ENT syncs.
const ParentsPerENT = 150

type seeder struct {
	ctx  context.Context
	st   store.Store
	now  time.Time
	data *Data
	err  error
}

func (s *seeder) audit(action, target, summary, col string) store.AuditEntry {
	return store.AuditEntry{At: s.now, Actor: "demo", Action: action, Target: target, Summary: summary, CollectiviteID: col}
}

func (s *seeder) account(label, role, name, col string, svc []string, sch []string) {
	if s.err != nil {
		return
	}
	tok := api.NewStaffToken()
	acc := store.Account{ID: store.NewID("acc", s.now), Role: role, Name: name, CollectiviteID: col,
		Services: svc, Schools: sch, TokenHash: store.HashToken(tok), CreatedAt: s.now, CreatedBy: "demo"}
	s.err = s.st.CreateAccount(s.ctx, acc, s.audit("account.create", acc.ID, "Compte de démonstration « "+name+" »", col))
	s.data.Credentials = append(s.data.Credentials, Credential{Label: label, Role: role, Name: name, CollectiviteID: col, Services: svc, AccountID: acc.ID, Token: tok})
}

// Seed fills an empty store. It is deterministic but for tokens and keys.
//
// origins are more browser origins of the demo ENTs (the demo server's
// own, where its demo ENT page is served), besides 127.0.0.1:8080.
func Seed(ctx context.Context, st store.Store, now time.Time, origins ...string) (*Data, error) {
	now = now.UTC().Truncate(time.Millisecond)
	s := &seeder{ctx: ctx, st: st, now: now, data: &Data{ParentIDs: map[string][]string{}, AllParentIDs: map[string][]string{}}}
	d := s.data

	s.account("Opératrice (syndicat mixte)", store.RoleOperator, "Claire Martin — Somme Numérique", "", nil, nil)
	s.account("Opérateur (syndicat mixte)", store.RoleOperator, "Hugo Lefebvre — Somme Numérique", "", nil, nil)

	var members []string
	for _, c := range communes {
		members = append(members, c.INSEE)
	}
	d.EPCI = store.Collectivite{ID: store.NewID("col", now), Kind: store.KindEPCI, Name: "Communauté de communes du Val de Noye (démo)",
		SIREN: "248000127", Members: members, CreatedAt: now}
	if s.err == nil {
		s.err = st.CreateCollectivite(ctx, d.EPCI, s.audit("collectivite.create", d.EPCI.ID, "Collectivité de démonstration", d.EPCI.ID))
	}
	for _, c := range communes {
		col := store.Collectivite{ID: store.NewID("col", now), Kind: store.KindCommune, Name: "Commune de " + c.Name, INSEE: c.INSEE, CreatedAt: now}
		if s.err == nil {
			s.err = st.CreateCollectivite(ctx, col, s.audit("collectivite.create", col.ID, "Collectivité de démonstration", col.ID))
		}
		d.Communes = append(d.Communes, col)
	}
	for _, sc := range schools {
		sc.CreatedAt = now
		if s.err == nil {
			s.err = st.CreateSchool(ctx, sc, s.audit("school.create", sc.UAI, "École de démonstration", ""))
		}
		d.Schools = append(d.Schools, sc)
	}

	// Admin pairs and agents: every service at Saint-Fuscien, the transport
	// service at the EPCI, a restauration agent at Boves.
	sf := d.Communes[0]
	s.account("Administratrice, Saint-Fuscien", store.RoleAdmin, "Sophie Dubois (mairie de Saint-Fuscien)", sf.ID, nil, nil)
	s.account("Administrateur, Saint-Fuscien", store.RoleAdmin, "Marc Petit (mairie de Saint-Fuscien)", sf.ID, nil, nil)
	for _, svc := range services {
		s.account("Agent "+svc+", Saint-Fuscien", store.RoleAgent, "Agent "+svc+" (Saint-Fuscien)", sf.ID, []string{svc}, nil)
	}
	for _, c := range d.Communes[1:] {
		s.account("Administrateur, "+c.Name, store.RoleAdmin, "Admin 1 — "+c.Name, c.ID, nil, nil)
		s.account("Administrateur, "+c.Name, store.RoleAdmin, "Admin 2 — "+c.Name, c.ID, nil, nil)
	}
	s.account("Agent restauration, Boves", store.RoleAgent, "Agent restauration (Boves)", d.Communes[1].ID, []string{"restauration"}, nil)
	s.account("Administratrice, Val de Noye", store.RoleAdmin, "Nadia Roussel (Val de Noye)", d.EPCI.ID, nil, nil)
	s.account("Administrateur, Val de Noye", store.RoleAdmin, "Paul Garnier (Val de Noye)", d.EPCI.ID, nil, nil)
	s.account("Agent transport, Val de Noye", store.RoleAgent, "Agent transport (Val de Noye)", d.EPCI.ID, []string{"transport"}, nil)
	var all []string
	for _, sc := range schools {
		all = append(all, sc.UAI)
	}
	s.account("IEN Amiens 3", store.RoleViewer, "IEN de la circonscription d'Amiens 3", "", nil, all)
	s.account("Directrice, Jules Ferry", store.RoleViewer, "Directrice de l'école Jules Ferry", "", nil, []string{"0801002E"})

	s.ents(all, origins)
	if len(origins) > 0 {
		s.casConnectors(origins[0])
	}
	s.conventions()
	s.week()
	if s.err != nil {
		return nil, fmt.Errorf("demo: %w", s.err)
	}
	return d, nil
}

// DemoCASPath is where the demo ENT's CAS server lives under Liaison's
// base URL (package demoent serves it, under `liaison demo` only).
const DemoCASPath = "/demo/ent"

// casConnectors registers the demo ENT's CAS server ({base}/demo/ent/cas,
// entcore's Generic answers) as every demo ENT's CAS connector, as an
// operator would: a demo parent signs in to the parent page through it.
// A base URL the CAS client would refuse (http on another host than the
// loopback) registers none.
func (s *seeder) casConnectors(base string) {
	cfg := cas.Config{BaseURL: strings.TrimRight(base, "/") + DemoCASPath, Version: cas.Version2,
		Mapping: cas.Mapping{Preset: cas.PresetEntcoreGeneric}}
	if s.err != nil || cfg.Validate() != nil {
		return
	}
	for _, e := range s.data.ENTs {
		c := store.Connector{ENTID: e.ID, Kind: store.ConnectorCAS, CreatedAt: s.now, UpdatedAt: s.now,
			CAS: &store.CASConnector{BaseURL: cfg.BaseURL, Version: string(cfg.Version), Mapping: store.CASMapping{Preset: cfg.Mapping.Preset}}}
		if s.err = s.st.PutConnector(s.ctx, c, s.audit("ent.connector_put", e.ID, "Connecteur CAS de l'ENT de démonstration", "")); s.err != nil {
			return
		}
	}
}

// ents registers two ENTs (one HS256, one ES256) and syncs their parents.
func (s *seeder) ents(all []string, extra []string) {
	if s.err != nil {
		return
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		s.err = err
		return
	}
	der, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	defs := []ENT{
		{ENT: store.ENT{Name: "ENT Hauts-de-France (démo)", Origins: []string{"http://127.0.0.1:8080", "http://localhost:8080"},
			Schools: all[:4], KeyAlg: store.AlgHS256, HMACSecret: secret}},
		{ENT: store.ENT{Name: "Skolengo (démo)", Origins: []string{"http://127.0.0.1:8080", "http://localhost:8080"},
			Schools: all[2:], KeyAlg: store.AlgES256, PublicKey: string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))},
			PrivateKey: key},
	}
	rng := mrand.New(mrand.NewPCG(2026, 11))
	for i := range defs {
		e := &defs[i]
		for _, o := range extra {
			if o = strings.TrimRight(o, "/"); o != "" && !slices.Contains(e.Origins, o) {
				e.Origins = append(e.Origins, o)
			}
		}
		e.ID = store.NewID("ent", s.now)
		e.APIKey = api.NewENTAPIKey()
		e.APIKeyHash = store.HashToken(e.APIKey)
		e.CreatedAt = s.now
		if s.err = s.st.CreateENT(s.ctx, e.ENT, s.audit("ent.create", e.ID, "ENT de démonstration", "")); s.err != nil {
			return
		}
		parents := make([]store.Parent, 0, ParentsPerENT)
		for p := 0; p < ParentsPerENT; p++ {
			id := fmt.Sprintf("demo-%d-%04d", i+1, p+1)
			n := 1 + rng.IntN(2)
			var kids []store.Child
			for k := 0; k < n; k++ {
				uai := e.Schools[rng.IntN(len(e.Schools))]
				lvl := levelOf(uai)
				cls := classesByLevel[lvl]
				kids = append(kids, store.Child{UAI: uai, Level: lvl, Class: cls[rng.IntN(len(cls))]})
			}
			parents = append(parents, store.Parent{ENTID: e.ID, ENTUserID: id, Children: kids, UpdatedAt: s.now})
			s.data.AllParentIDs[e.ID] = append(s.data.AllParentIDs[e.ID], id)
			if p < 5 {
				s.data.ParentIDs[e.ID] = append(s.data.ParentIDs[e.ID], id)
			}
		}
		if _, s.err = s.st.UpsertParents(s.ctx, e.ID, parents, s.now, s.audit("parents.sync", e.ID, "Parents de démonstration", "")); s.err != nil {
			return
		}
		s.data.ENTs = append(s.data.ENTs, *e)
	}
}

func levelOf(uai string) conventions.Level {
	for _, sc := range schools {
		if sc.UAI == uai {
			return sc.Level
		}
	}
	return store.LevelElementaire
}
