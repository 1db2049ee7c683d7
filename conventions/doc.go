// Package conventions is the pure rules engine of Liaison: it decides whether
// a notice may be published under a convention signed between a collectivité,
// the IEN and the operator, and explains every refusal in plain French and
// English.
//
// The package does no I/O and never reads the clock: the current time is
// always an argument (Request.Now, the now parameter of Capabilities, ...).
// It depends only on the standard library and internal/frenchid (UAI and
// class names), and embeds the time zone database (time/tzdata) so that
// Europe/Paris is available in a distroless image.
//
// # Time
//
// Every calendar notion is interpreted in Europe/Paris: a convention valid
// from 2026-09-01 to 2029-08-31 is valid from 2026-09-01 00:00 Paris time
// (included) to 2029-09-01 00:00 Paris time (excluded); a daily quota is
// counted on the Paris day of the publication, over every notice published
// for that day, withdrawn ones included (a withdrawn notice's push may
// have gone out: withdrawing and publishing again must not get round the
// quota; correct a notice instead); quiet hours are Paris wall
// clock times. Daylight-saving changes are handled by the time package.
//
// # Decisions
//
// Decide denies by default. A request is allowed only when the convention is
// active, valid at the publication time, covers every targeted school, and at
// least one rule grants the service the category for the targeted audience
// within its limits. The first allowing rule (in convention order) is cited
// in the Decision. When no rule allows the request, the reasons of the
// closest candidate rules (the rules granting the service the category that
// fail on the fewest points) are returned, each citing its article.
//
// Capabilities reports what a service may publish right now; it is built from
// the same internal rule evaluation as Decide, and Decide allows a request if
// and only if the request fits the returned capabilities.
//
// # Messages and typography
//
// Every Reason carries a stable Code (e.g. "convention.priority_too_high"),
// the request Field concerned, the Article of the rule concerned (when any),
// and two complete sentences: FR and EN, written for a non-technical
// commune agent and citing the convention number and version.
//
// French messages follow French typography: guillemets « » with a
// non-breaking space (U+00A0) inside, a non-breaking space before ":" and
// after "n°", times written "9 h 00" with non-breaking spaces, dates written
// "1er septembre 2026". The apostrophe is the ASCII "'". Category labels are
// quoted (« cantine »), service labels are not (le service Culture). English
// messages use “ ” around category labels.
package conventions
