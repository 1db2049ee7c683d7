package app

import (
	"context"
	"errors"
	"fmt"

	"github.com/liaison-ent/liaison/internal/frenchid"
	"github.com/liaison-ent/liaison/internal/store"
)

// StaffTokenPrefix starts every staff token.
const StaffTokenPrefix = "lia_s_"

// NewStaffToken returns a fresh 256-bit random staff token.
func NewStaffToken() string { return randomToken(StaffTokenPrefix) }

// CreateAccountRequest is a new staff or machine account.
type CreateAccountRequest struct {
	Role           string   `json:"role" validate:"required,oneof=operator admin agent viewer"`
	Name           string   `json:"name" validate:"required,min=2,max=120,text"`
	CollectiviteID string   `json:"collectivite_id" validate:"required_if=Role admin,excluded_if=Role operator,excluded_if=Role viewer,max=64"`
	Services       []string `json:"services" validate:"required_if=Role agent,excluded_unless=Role agent,omitempty,min=1,max=7,unique,dive,service"`
	Schools        []string `json:"schools" validate:"required_if=Role viewer,excluded_unless=Role viewer,omitempty,min=1,max=500,unique,dive,uai"`
	Machine        bool     `json:"machine" validate:"excluded_unless=Role agent"`
}

// AccountCreated is the new account and its token, given this once only
// (the store keeps its hash).
type AccountCreated struct {
	Account store.Account
	Token   string
}

// CreateAccount creates an account. Operators create operators, admins
// and viewers; admins create agents of their own collectivité (the
// collectivité defaults to theirs). Nobody else creates accounts.
func (a *App) CreateAccount(ctx context.Context, p *Principal, req CreateAccountRequest) (AccountCreated, error) {
	if !p.Is(store.RoleOperator, store.RoleAdmin) {
		return AccountCreated{}, Err(CodeAuthForbidden)
	}
	if err := a.Validate(&req); err != nil {
		return AccountCreated{}, err
	}
	switch {
	case p.Is(store.RoleOperator) && req.Role != store.RoleAgent:
	case p.Is(store.RoleAdmin) && req.Role == store.RoleAgent:
		if req.CollectiviteID == "" {
			req.CollectiviteID = p.Account.CollectiviteID
		}
		if req.CollectiviteID != p.Account.CollectiviteID {
			return AccountCreated{}, Err(CodeAuthForbidden)
		}
	default:
		return AccountCreated{}, Err(CodeAuthForbidden)
	}
	if req.CollectiviteID != "" {
		if _, err := a.store.GetCollectivite(ctx, req.CollectiviteID); errors.Is(err, store.ErrNotFound) {
			return AccountCreated{}, Err(CodeRequestValidationFailed, NewDetail("collectivite_id", "field.unknown_collectivite",
				"Cette collectivité n'existe pas.", "This collectivité does not exist."))
		} else if err != nil {
			return AccountCreated{}, err
		}
	}
	schools := make([]string, len(req.Schools))
	for i, u := range req.Schools {
		schools[i] = frenchid.NormalizeUAI(u)
	}
	if req.Schools == nil {
		schools = nil
	}
	if err := a.accountSchoolsKnown(ctx, schools); err != nil {
		return AccountCreated{}, err
	}
	token := NewStaffToken()
	now := a.Now()
	acc := store.Account{
		ID:             store.NewID("acc", now),
		Role:           req.Role,
		Name:           req.Name,
		CollectiviteID: req.CollectiviteID,
		Services:       req.Services,
		Schools:        schools,
		Machine:        req.Machine,
		TokenHash:      store.HashToken(token),
		CreatedAt:      now,
		CreatedBy:      p.ID(),
	}
	audit := a.Audit(p, "account.create", acc.ID,
		fmt.Sprintf("Création du compte « %s » (rôle %s)", acc.Name, acc.Role), acc.CollectiviteID)
	if err := a.store.CreateAccount(ctx, acc, audit); err != nil {
		return AccountCreated{}, err
	}
	return AccountCreated{Account: acc, Token: token}, nil
}

// accountSchoolsKnown refuses a viewer's UAIs that are not registered,
// naming each.
func (a *App) accountSchoolsKnown(ctx context.Context, uais []string) error {
	return a.RequireKnownSchools(ctx, "schools", uais)
}

// unknownSchool is the detail of a UAI that is not registered.
func unknownSchool(field, uai string) Detail {
	return NewDetail(field, "field.unknown_school",
		fmt.Sprintf("L'école %s n'est pas enregistrée.", uai), fmt.Sprintf("School %s is not registered.", uai))
}

// ListAccountsRequest filters a listing of accounts; empty fields do not
// filter.
type ListAccountsRequest struct {
	Role           string
	CollectiviteID string
	Page           store.Page
}

// ListAccounts lists accounts: operators see all, admins those of their
// collectivité (whatever collectivité they ask for); nobody else.
func (a *App) ListAccounts(ctx context.Context, p *Principal, req ListAccountsRequest) ([]store.Account, error) {
	f := store.AccountFilter{Role: req.Role, CollectiviteID: req.CollectiviteID, Page: req.Page}
	switch {
	case p.Is(store.RoleOperator):
	case p.Is(store.RoleAdmin):
		f.CollectiviteID = p.Account.CollectiviteID
	default:
		return nil, Err(CodeAuthForbidden)
	}
	return a.store.ListAccounts(ctx, f)
}

// RemoveAccountRequest names the account to remove.
type RemoveAccountRequest struct {
	ID string
}

// RemoveAccount removes an account and so revokes its token. Operators
// remove any account; admins the agents and admins of their collectivité
// (anything else is not found for them). Nobody removes their own
// account, and the store refuses a removal that would leave fewer than two
// operators, or two admins of a collectivité (accounts.key_holders).
func (a *App) RemoveAccount(ctx context.Context, p *Principal, req RemoveAccountRequest) error {
	if !p.Is(store.RoleOperator, store.RoleAdmin) {
		return Err(CodeAuthForbidden)
	}
	acc, err := a.store.GetAccount(ctx, req.ID)
	if err != nil {
		return err
	}
	if p.Is(store.RoleAdmin) && (acc.CollectiviteID != p.Account.CollectiviteID || (acc.Role != store.RoleAgent && acc.Role != store.RoleAdmin)) {
		return Err(CodeResourceNotFound)
	}
	if acc.ID == p.Account.ID {
		return Err(CodeAccountsSelfRemoval)
	}
	audit := a.Audit(p, "account.delete", acc.ID,
		fmt.Sprintf("Suppression du compte « %s » (rôle %s)", acc.Name, acc.Role), acc.CollectiviteID)
	err = a.store.DeleteAccount(ctx, acc.ID, audit)
	var kh *store.KeyHolderError
	if errors.As(err, &kh) {
		return keyHolderError(kh)
	}
	return err
}

// keyHolderError explains the two-key-holder rule with the current count.
func keyHolderError(kh *store.KeyHolderError) *Error {
	var d Detail
	if kh.Role == store.RoleOperator {
		d = NewDetail("id", "accounts.key_holders",
			fmt.Sprintf("Il y a %d opérateur(s) ; il doit en rester au moins %d. Créez d'abord un autre compte opérateur.", kh.Current, store.MinKeyHolders),
			fmt.Sprintf("There are %d operator(s); at least %d must remain. Create another operator account first.", kh.Current, store.MinKeyHolders))
	} else {
		d = NewDetail("id", "accounts.key_holders",
			fmt.Sprintf("Cette collectivité a %d administrateur(s) ; il doit en rester au moins %d. Faites d'abord désigner un autre administrateur.", kh.Current, store.MinKeyHolders),
			fmt.Sprintf("This collectivité has %d admin(s); at least %d must remain. Have another admin appointed first.", kh.Current, store.MinKeyHolders))
	}
	return Wrap(CodeAccountsKeyHolders, kh, d)
}
