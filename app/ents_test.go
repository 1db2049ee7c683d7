package app

import (
	"testing"

	"github.com/liaison-ent/liaison/internal/store"
)

// Only operators register, list and change the keys of ENTs; an admin,
// an ENT itself or no one is refused, and nothing changes.
func TestENTsOperatorsOnly(t *testing.T) {
	w := newDirWorld(t)
	id := w.entA.ENT.ID
	for _, p := range []*Principal{nil, {}, w.adminA, asENT(w.entA)} {
		_, err := w.a.CreateENT(w.ctx, p, CreateENTRequest{Name: "Autre", Origins: []string{"https://autre.example.fr"}, Schools: []string{dirUAIA1}})
		wantErr(t, err, CodeAuthForbidden)
		_, err = w.a.ListENTs(w.ctx, p, store.Page{Limit: 10})
		wantErr(t, err, CodeAuthForbidden)
		_, err = w.a.RotateENTAPIKey(w.ctx, p, RotateAPIKeyRequest{ID: id, OverlapMinutes: intp(0)})
		wantErr(t, err, CodeAuthForbidden)
		_, err = w.a.RotateENTWidgetKey(w.ctx, p, RotateWidgetKeyRequest{ID: id, OverlapMinutes: intp(0)})
		wantErr(t, err, CodeAuthForbidden)
		_, err = w.a.RevokeENT(w.ctx, p, RevokeENTRequest{ID: id, Reason: "Essai"})
		wantErr(t, err, CodeAuthForbidden)
	}
	e, err := w.st.GetENT(w.ctx, id)
	if err != nil || e.Revoked() || e.KeysVersion != w.entA.ENT.KeysVersion || !e.APIKeyValid(store.HashToken(w.entA.APIKey), dirNow) {
		t.Fatalf("ENT changed by refused calls: %+v %v", e, err)
	}
	res, err := w.a.ListENTs(w.ctx, w.operator, store.Page{Limit: 1})
	if err != nil || len(res.Items) != 1 || res.Next != res.Items[0].ID {
		t.Fatalf("first page: %+v %v", res, err)
	}
}

// Registration validates the request itself, the schools must be
// registered, keys are shown once and only their hashes kept.
func TestCreateENTUseCase(t *testing.T) {
	w := newDirWorld(t)
	_, err := w.a.CreateENT(w.ctx, w.operator, CreateENTRequest{Name: "X", Origins: []string{"ftp://x"}, Schools: []string{"0801001d", "0759999W"}})
	e := wantErr(t, err, CodeRequestValidationFailed)
	if len(e.Details) < 2 {
		t.Fatalf("details: %+v", e.Details)
	}
	_, err = w.a.CreateENT(w.ctx, w.operator, CreateENTRequest{Name: "ENT C", Origins: []string{"https://c.example.fr"}, Schools: []string{"0801001d", "0750655E"}})
	e = wantErr(t, err, CodeRequestValidationFailed)
	if len(e.Details) != 1 || e.Details[0].Field != "schools[1]" || e.Details[0].Code != "field.unknown_school" {
		t.Fatalf("unknown school: %+v", e.Details)
	}
	_, err = w.a.CreateENT(w.ctx, w.operator, CreateENTRequest{Name: "ENT C", Origins: []string{"https://c.example.fr"}, Schools: []string{dirUAIA1}, KeyAlg: store.AlgES256, PublicKey: "pas une clé"})
	e = wantErr(t, err, CodeRequestValidationFailed)
	if e.Details[0].Code != "field.public_key" {
		t.Fatalf("bad key: %+v", e.Details)
	}
	out, err := w.a.CreateENT(w.ctx, w.operator, CreateENTRequest{Name: "ENT C", Origins: []string{"https://c.example.fr"}, Schools: []string{"0801001d"}})
	if err != nil || out.ENT.KeyAlg != store.AlgHS256 || out.ENT.Schools[0] != dirUAIA1 || len(out.HMACSecret) != len(ENTSecretPrefix)+43 {
		t.Fatalf("created: %+v %v", out, err)
	}
	got, err := w.st.ENTByAPIKeyHash(w.ctx, store.HashToken(out.APIKey))
	if err != nil || got.ID != out.ENT.ID || got.APIKeyHash == out.APIKey {
		t.Fatalf("stored: %+v %v", got, err)
	}
}

// Rotations and revocation: the caches are told, a key without overlap is
// refused at once, a revoked ENT's keys no longer change, an unknown ENT
// is not found and a missing overlap is a validation error.
func TestENTKeysUseCases(t *testing.T) {
	w := newDirWorld(t)
	var told []string
	w.a.OnENTChanged(func(id string) { told = append(told, id) })
	id := w.entA.ENT.ID

	_, err := w.a.RotateENTAPIKey(w.ctx, w.operator, RotateAPIKeyRequest{ID: id})
	wantErr(t, err, CodeRequestValidationFailed)
	_, err = w.a.RotateENTAPIKey(w.ctx, w.operator, RotateAPIKeyRequest{ID: "ent_inconnu", OverlapMinutes: intp(0)})
	wantErr(t, err, CodeResourceNotFound)
	if len(told) != 0 {
		t.Fatalf("caches told of failed changes: %v", told)
	}

	rot, err := w.a.RotateENTAPIKey(w.ctx, w.operator, RotateAPIKeyRequest{ID: id, OverlapMinutes: intp(0)})
	if err != nil || rot.APIKey == "" || rot.ENT.KeysVersion != w.entA.ENT.KeysVersion+1 {
		t.Fatalf("rotation: %+v %v", rot, err)
	}
	e, _ := w.st.GetENT(w.ctx, id)
	if e.APIKeyValid(store.HashToken(w.entA.APIKey), dirNow) || !e.APIKeyValid(store.HashToken(rot.APIKey), dirNow) {
		t.Fatal("old key still valid, or new key refused")
	}
	_, err = w.a.RotateENTWidgetKey(w.ctx, w.operator, RotateWidgetKeyRequest{ID: id, OverlapMinutes: intp(60), PublicKey: "x"})
	wantErr(t, err, CodeRequestValidationFailed) // HS256: Liaison makes the secret
	wk, err := w.a.RotateENTWidgetKey(w.ctx, w.operator, RotateWidgetKeyRequest{ID: id, OverlapMinutes: intp(60)})
	if err != nil || wk.HMACSecret == "" || wk.ENT.PrevWidgetKeyUntil == nil {
		t.Fatalf("widget rotation: %+v %v", wk, err)
	}

	_, err = w.a.RevokeENT(w.ctx, w.operator, RevokeENTRequest{ID: id})
	wantErr(t, err, CodeRequestValidationFailed)
	rev, err := w.a.RevokeENT(w.ctx, w.operator, RevokeENTRequest{ID: id, Reason: "Clé divulguée"})
	if err != nil || !rev.Revoked() {
		t.Fatalf("revocation: %+v %v", rev, err)
	}
	_, err = w.a.RotateENTAPIKey(w.ctx, w.operator, RotateAPIKeyRequest{ID: id, OverlapMinutes: intp(0)})
	wantErr(t, err, CodeEntsRevoked)
	if len(told) != 3 || told[0] != id || told[2] != id {
		t.Fatalf("caches told: %v", told)
	}
	// Another ENT is untouched.
	if b, _ := w.st.GetENT(w.ctx, w.entB.ENT.ID); b.Revoked() || b.KeysVersion != w.entB.ENT.KeysVersion {
		t.Fatalf("ENT B changed: %+v", b)
	}
}
