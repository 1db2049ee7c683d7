package api

import (
	"github.com/gofiber/fiber/v2"

	"github.com/liaison-ent/liaison/app"
)

// accountCreated is the creation answer: the account and, once, its token.
type accountCreated struct {
	accountView
	Token string `json:"token"`
}

// createAccount is POST /v1/accounts (app.CreateAccount).
func (s *Server) createAccount(c *fiber.Ctx) error {
	return created(s, c, s.app.CreateAccount, func(res app.AccountCreated) accountCreated {
		return accountCreated{accountView: viewAccount(res.Account), Token: res.Token}
	})
}

// listAccounts is GET /v1/accounts (app.ListAccounts): operators see all
// (filters ?role= and ?collectivite_id=); admins the accounts of their
// collectivité.
func (s *Server) listAccounts(c *fiber.Ctx) error {
	p, err := pageParams(c)
	if err != nil {
		return err
	}
	items, err := s.app.ListAccounts(c.UserContext(), principal(c),
		app.ListAccountsRequest{Role: c.Query("role"), CollectiviteID: c.Query("collectivite_id"), Page: p})
	if err != nil {
		return err
	}
	return c.JSON(newList(viewAll(items, viewAccount), p.Limit, func(a accountView) string { return a.ID }))
}

// deleteAccount is DELETE /v1/accounts/{id} (app.RemoveAccount).
func (s *Server) deleteAccount(c *fiber.Ctx) error {
	if err := s.app.RemoveAccount(c.UserContext(), principal(c), app.RemoveAccountRequest{ID: c.Params("id")}); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}
