// Package operator creates operator accounts from the command line
// (`liaison operator create`): the first account of an instance, which
// then creates the others through the API or the back-office.
package operator

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/liaison-ent/liaison/api"
	"github.com/liaison-ent/liaison/internal/store"
)

// ErrName is a name out of bounds: 2 to 120 characters once trimmed.
var ErrName = errors.New("--name is required (2 to 120 characters)")

// Name is the operator's name as stored: raw trimmed, or ErrName.
func Name(raw string) (string, error) {
	n := strings.TrimSpace(raw)
	if len(n) < 2 || len(n) > 120 {
		return "", ErrName
	}
	return n, nil
}

// Create stores an operator account named name (see Name) with its
// audit entry and returns its token, shown once: only its hash is kept.
func Create(ctx context.Context, st store.Store, name string, now time.Time) (string, store.Account, error) {
	name, err := Name(name)
	if err != nil {
		return "", store.Account{}, err
	}
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
