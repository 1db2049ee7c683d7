package app

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/liaison-ent/liaison/internal/store"
)

// Principal is who is calling: a staff account, an ENT (server to server) or a
// parent (through their ENT).
type Principal struct {
	Account *store.Account
	ENT     *store.ENT
	Parent  *ParentIdentity
}

// ID names the principal in the audit log.
func (p *Principal) ID() string {
	switch {
	case p.Account != nil:
		return p.Account.ID
	case p.ENT != nil:
		return p.ENT.ID
	case p.Parent != nil:
		return "parent:" + p.Parent.ENT.ID
	}
	return "anonymous"
}

// Is reports whether the principal is a staff account with one of roles.
func (p *Principal) Is(roles ...string) bool {
	return p.Account != nil && slices.Contains(roles, p.Account.Role)
}

// ParentIdentity is a parent authenticated by their ENT's token. ENT is
// shared (the ENT cache's record, a parent token's identity among many):
// read it, never change it.
type ParentIdentity struct {
	ENT    *store.ENT
	UserID string
}

// AuthenticateStaff is the staff account a staff token names (an
// operator, admin, agent or viewer, a machine client included): the
// authentication of every front end a staff member uses. No token is
// CodeAuthMissingToken; a token that is not a staff token, or names no
// account (never issued, revoked, rotated), CodeAuthInvalidToken. Which
// roles a route or a page admits is the caller's to check (Principal.Is).
func (a *App) AuthenticateStaff(ctx context.Context, token string) (*Principal, error) {
	if token == "" {
		return nil, Err(CodeAuthMissingToken)
	}
	if !strings.HasPrefix(token, StaffTokenPrefix) {
		return nil, Err(CodeAuthInvalidToken)
	}
	acc, err := a.store.AccountByTokenHash(ctx, store.HashToken(token))
	if errors.Is(err, store.ErrNotFound) {
		return nil, Err(CodeAuthInvalidToken)
	}
	if err != nil {
		return nil, err
	}
	return &Principal{Account: &acc}, nil
}

// SignInStaff decides a staff member's sign-in with token from the
// address client to a front end that keeps a session (the back-office):
// AuthenticateStaff, under the limit on failed authentications the API's
// routes count against (AuthLimiter, shared), so that guessing tokens
// through the sign-in form is limited as through the API:
//
//   - from a client past its limit, a token that failed since is refused
//     (CodeRateLimited) without a lookup; any other is checked once —
//     invalid, it is refused as CodeRateLimited too and remembered; valid,
//     it signs in (an agent behind the same address as a guesser still
//     does);
//   - within the limit, an invalid token is CodeAuthInvalidToken and
//     counts as one failure of the client.
//
// A machine client's token is for the API only: it opens no session
// (CodeAuthForbidden).
func (a *App) SignInStaff(ctx context.Context, client netip.Addr, token string) (*Principal, error) {
	now := time.Now() // the limiter's windows run on the wall clock, as the API's
	key, adm := "", AdmitCheck
	if a.auth != nil {
		adm = a.auth.Admit(client, token, now, &key)
	}
	if adm == AdmitRefused {
		return nil, Err(CodeRateLimited)
	}
	p, err := a.AuthenticateStaff(ctx, token)
	var ae *Error
	if errors.As(err, &ae) && ae.Code.Status() == 401 {
		if a.auth != nil {
			a.auth.Fail(client, key, now)
			if adm != AdmitCheck { // past the limit
				return nil, Err(CodeRateLimited)
			}
		}
		return nil, err
	}
	if err != nil {
		return nil, err
	}
	if a.auth != nil {
		a.auth.Pass(key, now)
	}
	if p.Account.Machine {
		return nil, Err(CodeAuthForbidden)
	}
	return p, nil
}

// StaffSession is the staff member of an open session (the back-office's),
// rebuilt from the hash of the token it was opened with (the session
// keeps no token) on every request: an account removed since (its token
// revoked) ends the session (CodeAuthInvalidToken); a machine client's
// account opens none, as at the sign-in (CodeAuthForbidden).
func (a *App) StaffSession(ctx context.Context, tokenHash string) (*Principal, error) {
	if tokenHash == "" {
		return nil, Err(CodeAuthInvalidToken)
	}
	acc, err := a.store.AccountByTokenHash(ctx, tokenHash)
	if errors.Is(err, store.ErrNotFound) {
		return nil, Err(CodeAuthInvalidToken)
	}
	if err != nil {
		return nil, err
	}
	if acc.Machine {
		return nil, Err(CodeAuthForbidden)
	}
	return &Principal{Account: &acc}, nil
}
