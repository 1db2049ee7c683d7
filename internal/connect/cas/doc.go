// Package cas signs a parent in through their ENT's CAS server (CAS 2.0 or
// 3.0): it builds the login redirect, validates the service ticket
// server-to-server with the exact service URL the login used, reads the
// validation answer strictly and keeps from it a connect.Identity — the
// ENT's user id, the profile and, per school (and class), the UAI, the
// level and the class. Names, e-mails, birth dates and logins in the answer
// are dropped while it is read and never logged. It also reads the logout
// requests a CAS server posts for single logout.
//
// The package keeps no state: the caller stores the Config per ENT and maps
// the ticket a sign-in used to its session (single logout names that
// ticket).
//
// # Use
//
//	c, err := cas.New(cfg, cas.Options{Logger: log})   // cfg as stored for the ENT
//	login, _ := c.LoginURL(service)                     // redirect the browser there
//	// … the CAS server sends the browser to service?ticket=ST-…
//	id, err := c.Validate(ctx, ticket, service)         // the same service string
//	if err == nil && !id.IsParent() { /* "this service is for parents" */ }
//	ticket, err := cas.ParseLogoutRequest(form.Get("logoutRequest")) // single logout
//
// service is one fixed URL per ENT with no ticket in it (e.g.
// https://liaison.example.fr/parent/{ent}/cas): the callback strips the
// ticket parameter the CAS server appends before Validate.
//
// # In the ENT's admin console (entcore)
//
// "Applications externes" → create a connector: URL = the parent page
// (https://liaison.example.fr/parent/{ent}/), target = new page or
// iframe; in its CAS fields (connector.model.ts: casTypeId, casPattern): CAS type "Generic"
// (GenericRegisteredService), URL pattern = a regular expression the
// service URL matches, e.g. ^https://liaison\.example\.fr/parent/{ent}/cas.*;
// then attach it to the parents' groups of the schools. The connector's
// Liaison side is Config{BaseURL: "https://ent.example.fr", Version:
// "2.0", Mapping: Mapping{Preset: "entcore-generic"}}.
package cas
