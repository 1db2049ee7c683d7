package app

import (
	"slices"

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

// ParentIdentity is a parent authenticated by their ENT's token.
type ParentIdentity struct {
	ENT    store.ENT
	UserID string
}
