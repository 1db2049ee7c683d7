package api

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/liaison-ent/liaison/conventions"
	"github.com/liaison-ent/liaison/internal/store"
)

// The API's wire format is its own: each resource is encoded from a view
// type of this package, never from a store struct. These golden tests
// encode fully populated store structs (every field set, secrets
// included) the way the handlers answer, and compare with the answers the
// API gave before it had view types: the bytes must stay the same, and no
// secret may show.

var (
	goldenAt    = time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)
	goldenLater = time.Date(2026, 11, 24, 9, 30, 0, 500_000_000, time.UTC)
)

// storePkg is the import path of the store, whose structs must not be
// encoded by the API.
var storePkg = reflect.TypeFor[store.Notice]().PkgPath()

// In every API test, each answer the handlers encode (Fiber's JSON
// encoder) is refused if any part of it is a store type: the test that
// produced it then gets a 500 instead of its answer.
func init() {
	encode := jsonMarshal
	jsonMarshal = func(v any) ([]byte, error) {
		if name := storeTypeIn(reflect.ValueOf(v)); name != "" {
			return nil, fmt.Errorf("api test: an answer encodes the store type %s instead of a view", name)
		}
		return encode(v)
	}
}

// storeTypeIn names the first store type found in v (its static types,
// and the dynamic values behind interfaces such as fiber.Map), or "".
func storeTypeIn(v reflect.Value) string {
	if !v.IsValid() {
		return ""
	}
	t := v.Type()
	if t.PkgPath() == storePkg {
		return t.String()
	}
	switch t.Kind() {
	case reflect.Interface, reflect.Pointer:
		if v.IsNil() {
			return storeTypeOf(t, map[reflect.Type]bool{})
		}
		return storeTypeIn(v.Elem())
	case reflect.Struct:
		for i := range t.NumField() {
			if f := t.Field(i); f.IsExported() || f.Anonymous {
				if name := storeTypeIn(v.Field(i)); name != "" {
					return name
				}
			}
		}
	case reflect.Slice, reflect.Array, reflect.Map:
		if t.Kind() == reflect.Map {
			if name := storeTypeOf(t.Key(), map[reflect.Type]bool{}); name != "" {
				return name
			}
		}
		if t.Elem().Kind() != reflect.Interface {
			return storeTypeOf(t.Elem(), map[reflect.Type]bool{})
		}
		if t.Kind() == reflect.Map {
			for it := v.MapRange(); it.Next(); {
				if name := storeTypeIn(it.Value()); name != "" {
					return name
				}
			}
			return ""
		}
		for i := range v.Len() {
			if name := storeTypeIn(v.Index(i)); name != "" {
				return name
			}
		}
	}
	return ""
}

// storeTypeOf is storeTypeIn for a type without a value (interfaces: "").
func storeTypeOf(t reflect.Type, seen map[reflect.Type]bool) string {
	if seen[t] {
		return ""
	}
	seen[t] = true
	if t.PkgPath() == storePkg {
		return t.String()
	}
	switch t.Kind() {
	case reflect.Pointer, reflect.Slice, reflect.Array:
		return storeTypeOf(t.Elem(), seen)
	case reflect.Map:
		if name := storeTypeOf(t.Key(), seen); name != "" {
			return name
		}
		return storeTypeOf(t.Elem(), seen)
	case reflect.Struct:
		for i := range t.NumField() {
			if f := t.Field(i); f.IsExported() || f.Anonymous {
				if name := storeTypeOf(f.Type, seen); name != "" {
					return name
				}
			}
		}
	}
	return ""
}

// The guard finds store types however deep, and lets views through.
func TestStoreTypeGuard(t *testing.T) {
	n := fullNotice()
	for _, tc := range []struct {
		v    any
		want string
	}{
		{n, "store.Notice"},
		{&n, "store.Notice"},
		{struct{ store.ENT }{}, "store.ENT"},
		{newList([]store.School(nil), 0, func(store.School) string { return "" }), "store.School"},
		{map[string]any{"items": []any{1, store.UpsertResult{}}}, "store.UpsertResult"},
		{struct{ P *store.Parent }{}, "store.Parent"},
		{struct{ C []store.Child }{}, "store.Child"},
		{publishAnswer{}, ""},
		{accountCreated{}, ""},
		{entCreated{}, ""},
		{entRotated{}, ""},
		{syncResult{}, ""},
		{meView{Children: []childView{{}}}, ""},
		{map[string]any{"items": []subscriptionView{{}}}, ""},
		{newList(viewAll([]store.Notice{n}, viewNotice), 1, func(noticeView) string { return "" }), ""},
		{conventionView{}, ""},
		{feedPage{}, ""},
	} {
		if got := storeTypeIn(reflect.ValueOf(tc.v)); got != tc.want {
			t.Errorf("%T: got %q, want %q", tc.v, got, tc.want)
		}
	}
}

// Every resource's answer goes through the guard: a handler that encoded
// a store struct would answer 500 here.
func TestAnswersAreViews(t *testing.T) {
	p := newPublishing(t)
	ans := p.published(t, p.agents["restauration"], cantineNotice())
	id := ans.Notice.ID
	p.must(200, p.do("POST", "/v1/notices/"+id+"/corrections", p.agents["restauration"], map[string]any{"reason": "Coquille", "title": "Menus corrigés"}))
	for _, r := range []struct{ path, token string }{
		{"/v1/collectivites", p.operator}, {"/v1/collectivites/" + p.communeA, p.adminA1},
		{"/v1/schools", p.operator}, {"/v1/schools", p.adminA1},
		{"/v1/accounts", p.operator}, {"/v1/ents", p.operator}, {"/v1/audit", p.operator},
		{"/v1/conventions", p.operator}, {"/v1/conventions/" + p.conventionID, p.adminA1},
		{"/v1/notices", p.adminA1}, {"/v1/notices/" + id, p.adminA1},
		{"/v1/me", p.parentToken(t, "u00001")},
	} {
		p.must(200, p.do("GET", r.path, r.token, nil))
	}
	p.must(200, p.do("PUT", "/v1/ent/parents", p.entKey, parentBatch(2, uaiA1)))
	var rot entRotated
	p.must(200, p.do("POST", "/v1/ents/"+p.entID+"/rotate-api-key", p.operator, map[string]any{"overlap_minutes": 0})).Decode(t, &rot)
	if rot.ID != p.entID || rot.APIKey == "" {
		t.Fatalf("rotation: %+v", rot)
	}
}
func goldenJSON(t *testing.T, name string, v any, want string) {
	t.Helper()
	got, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if string(got) != want {
		t.Errorf("%s:\n got %s\nwant %s", name, got, want)
	}
}

func fullCollectivite() store.Collectivite {
	return store.Collectivite{ID: "col_1", Kind: store.KindEPCI, Name: "CC du Val", INSEE: "80702", SIREN: "200070712",
		Members: []string{"80702", "80001"}, Departements: []string{"80"}, CreatedAt: goldenAt}
}

func fullSchool() store.School {
	return store.School{UAI: uaiA1, Name: "École Jules Ferry", Commune: "80702", Level: store.LevelMaternelle, CreatedAt: goldenAt}
}

func fullAccount() store.Account {
	return store.Account{ID: "acc_1", Role: store.RoleAgent, Name: "Agent cantine", CollectiviteID: "col_1",
		Services: []string{"restauration"}, Schools: []string{uaiA1}, Machine: true, TokenHash: "secret-token-hash",
		CreatedAt: goldenAt, CreatedBy: "acc_0"}
}

func fullENT() store.ENT {
	return store.ENT{ID: "ent_1", Name: "ENT Picardie", Origins: []string{"https://ent.example.fr"}, Schools: []string{uaiA1, uaiA2},
		KeyAlg: store.AlgES256, HMACSecret: []byte("secret-hmac"), PublicKey: "-----BEGIN PUBLIC KEY-----\nX\n-----END PUBLIC KEY-----\n",
		APIKeyHash: "secret-api-hash", CreatedAt: goldenAt,
		PrevAPIKeyHash: "secret-prev-api", PrevAPIKeyUntil: &goldenLater, PrevHMACSecret: []byte("secret-prev-hmac"),
		PrevPublicKey: "secret-prev-pk", PrevWidgetKeyUntil: &goldenLater, RevokedAt: &goldenLater, KeysVersion: 7}
}

func fullAuditEntry() store.AuditEntry {
	return store.AuditEntry{Seq: 42, At: goldenAt, Actor: "acc_0", Action: "school.create", Target: uaiA1,
		Summary: "Ajout de l'école", CollectiviteID: "col_1", PrevHash: "ab", Hash: "cd"}
}

func fullNotice() store.Notice {
	return store.Notice{ID: "ntc_1", Version: 2, CollectiviteID: "col_1", AuthorID: "acc_1", Service: "restauration",
		Category: "cantine", Priority: "normal", Title: "Menus", Body: "Cette semaine",
		Audience: store.Audience{Schools: []string{uaiA1}, Levels: []conventions.Level{"maternelle"}, Classes: []string{"MS"}},
		Content:  json.RawMessage(`{"menu":[]}`), PublishAt: goldenAt, ExpiresAt: goldenLater,
		AckRequired: true, Push: true, Critical: true, Status: store.NoticeScheduled,
		ConventionID: "cnv_1", ConventionNumber: 3, ConventionVersion: 4, Article: "3.1",
		IdempotencyKey: "secret-idem", RequestHash: "secret-request-hash", CreatedAt: goldenAt, UpdatedAt: goldenLater,
		CorrectionReason: "Coquille", WithdrawnAt: &goldenLater, WithdrawReason: "Erreur"}
}

const (
	goldenCollectivite = `{"id":"col_1","kind":"epci","name":"CC du Val","insee":"80702","siren":"200070712","members":["80702","80001"],"departements":["80"],"created_at":"2026-11-23T08:00:00Z"}`
	goldenSchool       = `{"uai":"0801001D","name":"École Jules Ferry","commune":"80702","level":"maternelle","created_at":"2026-11-23T08:00:00Z"}`
	goldenAccount      = `{"id":"acc_1","role":"agent","name":"Agent cantine","collectivite_id":"col_1","services":["restauration"],"schools":["0801001D"],"machine":true,"created_at":"2026-11-23T08:00:00Z","created_by":"acc_0"}`
	goldenENT          = `{"id":"ent_1","name":"ENT Picardie","origins":["https://ent.example.fr"],"schools":["0801001D","0801002E"],"key_alg":"ES256","public_key":"-----BEGIN PUBLIC KEY-----\nX\n-----END PUBLIC KEY-----\n","created_at":"2026-11-23T08:00:00Z","previous_api_key_until":"2026-11-24T09:30:00.5Z","previous_widget_key_until":"2026-11-24T09:30:00.5Z","revoked_at":"2026-11-24T09:30:00.5Z"}`
	goldenAudit        = `{"seq":42,"at":"2026-11-23T08:00:00Z","actor":"acc_0","action":"school.create","target":"0801001D","summary":"Ajout de l'école","collectivite_id":"col_1","prev_hash":"ab","hash":"cd"}`
	goldenNoticeFields = `"id":"ntc_1","version":2,"collectivite_id":"col_1","author_id":"acc_1","service":"restauration","category":"cantine","priority":"normal","title":"Menus","body":"Cette semaine","audience":{"schools":["0801001D"],"levels":["maternelle"],"classes":["MS"]},"content":{"menu":[]},"publish_at":"2026-11-23T08:00:00Z","expires_at":"2026-11-24T09:30:00.5Z","ack_required":true,"push":true,"critical":true,"status":"%s","convention_id":"cnv_1","convention_number":3,"convention_version":4,"article":"3.1","created_at":"2026-11-23T08:00:00Z","updated_at":"2026-11-24T09:30:00.5Z","correction_reason":"Coquille","withdrawn_at":"2026-11-24T09:30:00.5Z","withdraw_reason":"Erreur"`
)

func notice(status, versions string) string {
	return "{" + strings.Replace(goldenNoticeFields, "%s", status, 1) + versions + "}"
}

func TestViewsGolden(t *testing.T) {
	ts := newTestServer(t)
	col, sc, acc, e, au, n := fullCollectivite(), fullSchool(), fullAccount(), fullENT(), fullAuditEntry(), fullNotice()

	goldenJSON(t, "collectivite", viewCollectivite(col), goldenCollectivite)
	goldenJSON(t, "collectivites", newList(viewAll([]store.Collectivite{col}, viewCollectivite), 1, func(x collectiviteView) string { return x.ID }),
		`{"items":[`+goldenCollectivite+`],"next_cursor":"col_1"}`)

	goldenJSON(t, "school", viewSchool(sc), goldenSchool)
	goldenJSON(t, "schools", newList(viewAll([]store.School{sc}, viewSchool), 2, func(x schoolView) string { return x.UAI }),
		`{"items":[`+goldenSchool+`]}`)

	goldenJSON(t, "account created", accountCreated{accountView: viewAccount(acc), Token: "lia_s_tok"},
		goldenAccount[:len(goldenAccount)-1]+`,"token":"lia_s_tok"}`)
	goldenJSON(t, "accounts", newList(viewAll([]store.Account{acc}, viewAccount), 1, func(a accountView) string { return a.ID }),
		`{"items":[`+goldenAccount+`],"next_cursor":"acc_1"}`)

	goldenJSON(t, "ent", viewENT(e), goldenENT)
	goldenJSON(t, "ent created", entCreated{entView: viewENT(e), APIKey: "lia_k_key", HMACSecret: "lia_w_secret"},
		goldenENT[:len(goldenENT)-1]+`,"api_key":"lia_k_key","hmac_secret":"lia_w_secret"}`)
	goldenJSON(t, "ent rotated", entRotated{entView: viewENT(e), APIKey: "lia_k_key"},
		goldenENT[:len(goldenENT)-1]+`,"api_key":"lia_k_key"}`)
	goldenJSON(t, "ents", newList(viewAll([]store.ENT{e}, viewENT), 1, func(e entView) string { return e.ID }),
		`{"items":[`+goldenENT+`],"next_cursor":"ent_1"}`)

	goldenJSON(t, "audit", newList(viewAll([]store.AuditEntry{au}, viewAuditEntry), 1, func(e auditEntryView) string { return strconv.FormatInt(e.Seq, 10) }),
		`{"items":[`+goldenAudit+`],"next_cursor":"42"}`)

	v := ts.view(n)
	ten := 10
	goldenJSON(t, "notice", v, notice("published", ""))
	v.Versions = viewAll([]store.Notice{n}, viewNotice)
	goldenJSON(t, "notice with versions", v, notice("published", `,"versions":[`+notice("scheduled", "")+`]`))
	goldenJSON(t, "publication", publishAnswer{Notice: ts.view(n), Decision: conventions.Decision{Allowed: true}, Families: figure{Value: &ten, Label: "10 à 14"}, Replayed: true},
		`{"notice":`+notice("published", "")+`,"decision":{"allowed":true,"rule":0},"families":{"value":10,"label":"10 à 14"},"replayed":true}`)

	goldenJSON(t, "parents synced", syncResult{Created: 2, Updated: 3, Total: 5},
		`{"created":2,"updated":3,"total":5}`)
	goldenJSON(t, "me", meView{ENTID: "ent_1", ENTUserID: "u1", Synced: true, Children: viewAll([]store.Child{{UAI: uaiA1, Level: "maternelle", Class: "MS"}, {UAI: uaiA2, Level: "elementaire"}}, viewChild), Locale: "fr", Muted: []string{}},
		`{"ent_id":"ent_1","ent_user_id":"u1","synced":true,"children":[{"uai":"0801001D","level":"maternelle","class":"MS"},{"uai":"0801002E","level":"elementaire"}],"locale":"fr","muted":[]}`)

	// Sparse structs: optional fields left out, absent lists as today
	// (null where the field has no omitempty).
	goldenJSON(t, "sparse collectivite", viewCollectivite(store.Collectivite{ID: "col_2", Kind: store.KindCommune, Name: "Amiens", CreatedAt: goldenAt}),
		`{"id":"col_2","kind":"commune","name":"Amiens","created_at":"2026-11-23T08:00:00Z"}`)
	goldenJSON(t, "sparse account", accountCreated{accountView: viewAccount(store.Account{ID: "acc_2", Role: store.RoleOperator, Name: "Op"})},
		`{"id":"acc_2","role":"operator","name":"Op","created_at":"0001-01-01T00:00:00Z","token":""}`)
	goldenJSON(t, "sparse ent", viewENT(store.ENT{ID: "ent_2", Name: "ENT", KeyAlg: store.AlgHS256, HMACSecret: []byte("secret")}),
		`{"id":"ent_2","name":"ENT","origins":null,"schools":null,"key_alg":"HS256","created_at":"0001-01-01T00:00:00Z"}`)
	sparse := store.Notice{ID: "ntc_2", Status: store.NoticeWithdrawn, Content: json.RawMessage{}}
	goldenJSON(t, "sparse notice", ts.view(sparse),
		`{"id":"ntc_2","version":0,"collectivite_id":"","author_id":"","service":"","category":"","priority":"","title":"","body":"","audience":{"schools":null},"publish_at":"0001-01-01T00:00:00Z","expires_at":"0001-01-01T00:00:00Z","ack_required":false,"push":false,"critical":false,"status":"withdrawn","convention_id":"","convention_number":0,"convention_version":0,"article":"","created_at":"0001-01-01T00:00:00Z","updated_at":"0001-01-01T00:00:00Z"}`)
}

// A convention is shown from its record and document, with its versions.
func TestConventionViewGolden(t *testing.T) {
	ts := newTestServer(t)
	body, _ := json.Marshal(conventionJSON("col_1"))
	doc, err := conventions.ParseDocument(body)
	if err != nil {
		t.Fatal(err)
	}
	doc.ID, doc.Number, doc.Version, doc.Status = "cnv_1", 3, 2, conventions.Status(store.ConventionActive)
	rec, ver, err := conventionRecord(doc, goldenAt, "acc_0", "Avenant")
	if err != nil {
		t.Fatal(err)
	}
	rec.Status = store.ConventionActive
	ts.clock.Set(time.Date(2029, 9, 1, 0, 0, 0, 0, time.UTC)) // after valid_until: expired
	goldenJSON(t, "convention", ts.viewConvention(rec, doc, []store.ConventionVersion{ver}),
		`{"id":"cnv_1","number":3,"collectivite_id":"col_1","version":2,"status":"active","schools":[{"uai":"0801001D"},{"uai":"0801002E"}],"signatories":[{"role":"maire","name":"Jean Dupont","signed_at":"2026-08-28"},{"role":"ien","name":"Anne Leroy","signed_at":"2026-08-28"},{"role":"operateur","name":"Somme Numérique","signed_at":"2026-08-28"}],"valid_from":"2026-09-01","valid_until":"2029-08-31","limits":{"max_per_school_per_day":3,"max_validity_days":31,"quiet_hours":{"from":"20:00","to":"07:30"}},"rules":[{"article":"3.1","services":["restauration"],"categories":["cantine"],"max_priority":"normal","push":true},{"article":"3.2","services":["enfance_jeunesse"],"categories":["periscolaire","etudes"],"max_priority":"normal","push":true,"ack_allowed":true},{"article":"3.3","services":["technique"],"categories":["batiment"],"max_priority":"urgent","push":true,"critical_when_urgent":true},{"article":"3.4","services":["elus"],"categories":["alerte"],"max_priority":"urgent","push":true,"critical":true,"ack_allowed":true,"quota_exempt":true,"max_validity_days":7},{"article":"3.5","services":["culture"],"categories":["culture"],"schools":["0801002E"],"levels":["elementaire"],"classes":["CE2","CM1","CM2"],"max_priority":"normal"}],"effective_status":"expired","updated_at":"2026-11-23T08:00:00Z","versions":[{"version":2,"created_at":"2026-11-23T08:00:00Z","created_by":"acc_0","reason":"Avenant","document":{"id":"cnv_1","number":3,"collectivite_id":"col_1","version":2,"status":"active","schools":[{"uai":"0801001D"},{"uai":"0801002E"}],"signatories":[{"role":"maire","name":"Jean Dupont","signed_at":"2026-08-28"},{"role":"ien","name":"Anne Leroy","signed_at":"2026-08-28"},{"role":"operateur","name":"Somme Numérique","signed_at":"2026-08-28"}],"valid_from":"2026-09-01","valid_until":"2029-08-31","limits":{"max_per_school_per_day":3,"max_validity_days":31,"quiet_hours":{"from":"20:00","to":"07:30"}},"rules":[{"article":"3.1","services":["restauration"],"categories":["cantine"],"max_priority":"normal","push":true},{"article":"3.2","services":["enfance_jeunesse"],"categories":["periscolaire","etudes"],"max_priority":"normal","push":true,"ack_allowed":true},{"article":"3.3","services":["technique"],"categories":["batiment"],"max_priority":"urgent","push":true,"critical_when_urgent":true},{"article":"3.4","services":["elus"],"categories":["alerte"],"max_priority":"urgent","push":true,"critical":true,"ack_allowed":true,"quota_exempt":true,"max_validity_days":7},{"article":"3.5","services":["culture"],"categories":["culture"],"schools":["0801002E"],"levels":["elementaire"],"classes":["CE2","CM1","CM2"],"max_priority":"normal"}]}}]}`)
}
