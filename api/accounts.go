package api

import (
	"errors"
	"fmt"

	"github.com/gofiber/fiber/v2"

	"github.com/liaison-ent/liaison/app"
	"github.com/liaison-ent/liaison/internal/frenchid"
	"github.com/liaison-ent/liaison/internal/store"
)

type createAccountRequest struct {
	Role           string   `json:"role" validate:"required,oneof=operator admin agent viewer"`
	Name           string   `json:"name" validate:"required,min=2,max=120,text"`
	CollectiviteID string   `json:"collectivite_id" validate:"required_if=Role admin,excluded_if=Role operator,excluded_if=Role viewer,max=64"`
	Services       []string `json:"services" validate:"required_if=Role agent,excluded_unless=Role agent,omitempty,min=1,max=7,unique,dive,service"`
	Schools        []string `json:"schools" validate:"required_if=Role viewer,excluded_unless=Role viewer,omitempty,min=1,max=500,unique,dive,uai"`
	Machine        bool     `json:"machine" validate:"excluded_unless=Role agent"`
}

// accountCreated is the creation answer: the account and, once, its token.
type accountCreated struct {
	accountView
	Token string `json:"token"`
}

func (s *Server) createAccount(c *fiber.Ctx) error {
	var req createAccountRequest
	if err := s.decodeJSON(c, s.cfg.BodyLimit, &req); err != nil {
		return err
	}
	me := principal(c)
	// Operators create operators, admins and viewers; admins create agents
	// of their own collectivité.
	switch {
	case me.Is(store.RoleOperator) && req.Role != store.RoleAgent:
	case me.Is(store.RoleAdmin) && req.Role == store.RoleAgent:
		if req.CollectiviteID == "" {
			req.CollectiviteID = me.Account.CollectiviteID
		}
		if req.CollectiviteID != me.Account.CollectiviteID {
			return app.Err(app.CodeAuthForbidden)
		}
	default:
		return app.Err(app.CodeAuthForbidden)
	}
	ctx := c.UserContext()
	if req.CollectiviteID != "" {
		if _, err := s.store.GetCollectivite(ctx, req.CollectiviteID); errors.Is(err, store.ErrNotFound) {
			return app.Err(app.CodeRequestValidationFailed, app.NewDetail("collectivite_id", "field.unknown_collectivite",
				"Cette collectivité n'existe pas.", "This collectivité does not exist."))
		} else if err != nil {
			return err
		}
	}
	for i := range req.Schools {
		req.Schools[i] = frenchid.NormalizeUAI(req.Schools[i])
	}
	if err := s.requireKnownSchools(c, "schools", req.Schools); err != nil {
		return err
	}
	token := newToken(staffTokenPrefix)
	acc := store.Account{
		ID:             store.NewID("acc", s.utcNow()),
		Role:           req.Role,
		Name:           req.Name,
		CollectiviteID: req.CollectiviteID,
		Services:       req.Services,
		Schools:        req.Schools,
		Machine:        req.Machine,
		TokenHash:      store.HashToken(token),
		CreatedAt:      s.utcNow(),
		CreatedBy:      me.ID(),
	}
	a := s.auditEntry(c, "account.create", acc.ID,
		fmt.Sprintf("Création du compte « %s » (rôle %s)", acc.Name, acc.Role), acc.CollectiviteID)
	if err := s.store.CreateAccount(ctx, acc, a); err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(accountCreated{accountView: viewAccount(acc), Token: token})
}

// listAccounts: operators see all (filters ?role= and ?collectivite_id=);
// admins the accounts of their collectivité.
func (s *Server) listAccounts(c *fiber.Ctx) error {
	p, err := pageParams(c)
	if err != nil {
		return err
	}
	f := store.AccountFilter{Role: c.Query("role"), CollectiviteID: c.Query("collectivite_id"), Page: p}
	if me := principal(c); me.Is(store.RoleAdmin) {
		f.CollectiviteID = me.Account.CollectiviteID
	}
	items, err := s.store.ListAccounts(c.UserContext(), f)
	if err != nil {
		return err
	}
	return c.JSON(newList(viewAll(items, viewAccount), p.Limit, func(a accountView) string { return a.ID }))
}

// deleteAccount revokes an account and its token. Operators remove any
// account; admins the agents and admins of their collectivité. Never below
// two key holders.
func (s *Server) deleteAccount(c *fiber.Ctx) error {
	ctx := c.UserContext()
	me := principal(c)
	acc, err := s.store.GetAccount(ctx, c.Params("id"))
	if err != nil {
		return err
	}
	if me.Is(store.RoleAdmin) && (acc.CollectiviteID != me.Account.CollectiviteID || (acc.Role != store.RoleAgent && acc.Role != store.RoleAdmin)) {
		return app.Err(app.CodeResourceNotFound)
	}
	if acc.ID == me.Account.ID {
		return app.Err(app.CodeAccountsSelfRemoval)
	}
	a := s.auditEntry(c, "account.delete", acc.ID,
		fmt.Sprintf("Suppression du compte « %s » (rôle %s)", acc.Name, acc.Role), acc.CollectiviteID)
	err = s.store.DeleteAccount(ctx, acc.ID, a)
	var kh *store.KeyHolderError
	if errors.As(err, &kh) {
		return keyHolderError(kh)
	}
	if err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

func keyHolderError(kh *store.KeyHolderError) error {
	var d app.Detail
	if kh.Role == store.RoleOperator {
		d = app.NewDetail("id", "accounts.key_holders",
			fmt.Sprintf("Il y a %d opérateur(s) ; il doit en rester au moins %d. Créez d'abord un autre compte opérateur.", kh.Current, store.MinKeyHolders),
			fmt.Sprintf("There are %d operator(s); at least %d must remain. Create another operator account first.", kh.Current, store.MinKeyHolders))
	} else {
		d = app.NewDetail("id", "accounts.key_holders",
			fmt.Sprintf("Cette collectivité a %d administrateur(s) ; il doit en rester au moins %d. Faites d'abord désigner un autre administrateur.", kh.Current, store.MinKeyHolders),
			fmt.Sprintf("This collectivité has %d admin(s); at least %d must remain. Have another admin appointed first.", kh.Current, store.MinKeyHolders))
	}
	return app.Err(app.CodeAccountsKeyHolders, d)
}
