package app

import (
	"errors"
	"fmt"

	"github.com/liaison-ent/liaison/internal/store"
)

// Code is a catalog error code. It is an integer, not a string, so that
// no string can stand for one: a misspelt code does not compile. Its
// name on the wire (String) is stable: clients and tests rely on it.
type Code int

// The catalog codes, in the order of the catalog. The zero Code is none.
const (
	CodeRequestMalformedJSON Code = iota + 1
	CodeRequestUnknownField
	CodeRequestWrongType
	CodeRequestEmptyBody
	CodeRequestInvalidQuery
	CodeRequestUnsupportedMediaType
	CodeRequestTimeout
	CodeRequestBadFraming
	CodeRequestBadEncoding
	CodeRequestUnsupportedEncoding
	CodeRequestBodyTooLarge
	CodeRequestValidationFailed
	CodeAuthMissingToken
	CodeAuthInvalidToken
	CodeAuthTokenTooLong
	CodeAuthOriginNotAllowed
	CodeAuthForbidden
	CodeAuthMetricsLocalOnly
	CodeResourceNotFound
	CodeRouteNotFound
	CodeRouteMethodNotAllowed
	CodeResourceAlreadyExists
	CodeResourceModified
	CodeAccountsKeyHolders
	CodeAccountsSelfRemoval
	CodeEntsRevoked
	CodeConnectorsKeyMissing
	CodeConnectorsSecretUnreadable
	CodeParentsBatchInvalid
	CodeParentsBatchTooLarge
	CodeParentsCSVInvalid
	CodeConventionsInvalid
	CodeConventionsActivationRefused
	CodeConventionsAmendmentRefused
	CodeNoticesRefused
	CodeNoticesIdempotencyKeyReused
	CodeNoticesNotEditable
	CodeAttachmentsInvalid
	CodeAttachmentsUnsupportedType
	CodeAttachmentsTooLarge
	CodeAttachmentsTooMany
	CodeAttachmentsAltRequired
	CodeFeedNotSynced
	CodeFeedAckNotRequested
	CodePreferencesCriticalCategory
	CodePushSubscriptionInvalid
	CodePushTooManySubscriptions
	CodePushParentNotSynced
	CodePushEndpointTaken
	CodePushReceiptInvalid
	CodeRateTooManyConnections
	CodeRateLimited
	CodeServiceUnavailable
	CodeInternalError
	numCodes // not a code: the size of the catalog
)

// String is the code as the API writes it, e.g. "request.malformed_json";
// "" for a value that is not a catalog code.
func (c Code) String() string {
	if c <= 0 || c >= numCodes {
		return ""
	}
	return catalog[c].Name
}

// entry is one error of the catalog: a stable code, an HTTP status and a
// sentence in French and in English that a non-technical person understands.
type entry struct {
	Name   string
	Status int
	FR, EN string
}

// catalog lists every error the API can answer, indexed by Code: the one
// list of codes, their names, statuses and sentences (TestCatalogComplete
// checks that every constant has its entry).
var catalog = [numCodes]entry{
	CodeRequestMalformedJSON:         {"request.malformed_json", 400, "Le contenu envoyé n'est pas un JSON valide.", "The request body is not valid JSON."},
	CodeRequestUnknownField:          {"request.unknown_field", 400, "Le contenu envoyé contient un champ inconnu.", "The request body contains an unknown field."},
	CodeRequestWrongType:             {"request.wrong_type", 400, "Un champ n'a pas le bon type de valeur.", "A field has a value of the wrong type."},
	CodeRequestEmptyBody:             {"request.empty_body", 400, "Le contenu de la requête est vide.", "The request body is empty."},
	CodeRequestInvalidQuery:          {"request.invalid_query", 400, "Un paramètre de l'adresse est invalide.", "A query parameter is invalid."},
	CodeRequestUnsupportedMediaType:  {"request.unsupported_media_type", 415, "Le format envoyé n'est pas accepté ici (attendu : application/json).", "This content type is not accepted here (expected application/json)."},
	CodeRequestTimeout:               {"request.timeout", 408, "La requête a mis trop de temps à arriver.", "The request took too long to arrive."},
	CodeRequestBadFraming:            {"request.bad_framing", 400, "La longueur du contenu envoyé est ambiguë (Content-Length et Transfer-Encoding en désaccord) : la requête est refusée.", "The length of the request body is ambiguous (conflicting Content-Length and Transfer-Encoding): the request is refused."},
	CodeRequestBadEncoding:           {"request.bad_encoding", 400, "Le contenu compressé envoyé est illisible.", "The compressed request body cannot be decoded."},
	CodeRequestUnsupportedEncoding:   {"request.unsupported_encoding", 415, "Cette compression du contenu n'est pas acceptée (acceptées : gzip, deflate).", "This content encoding is not accepted (accepted: gzip, deflate)."},
	CodeRequestBodyTooLarge:          {"request.body_too_large", 413, "Le contenu envoyé est trop volumineux.", "The request body is too large."},
	CodeRequestValidationFailed:      {"request.validation_failed", 422, "Certaines informations sont manquantes ou incorrectes.", "Some fields are missing or invalid."},
	CodeAuthMissingToken:             {"auth.missing_token", 401, "Identification requise : fournissez votre jeton d'accès.", "Authentication required: provide your access token."},
	CodeAuthInvalidToken:             {"auth.invalid_token", 401, "Ce jeton d'accès n'est pas reconnu ou n'est plus valide.", "This access token is not recognised or no longer valid."},
	CodeAuthTokenTooLong:             {"auth.token_too_long", 401, "Ce jeton a une durée de validité trop longue (une heure au plus).", "This token is valid for too long (one hour at most)."},
	CodeAuthOriginNotAllowed:         {"auth.origin_not_allowed", 403, "Cette page n'est pas autorisée à utiliser Liaison pour cet ENT.", "This page is not allowed to use Liaison for this ENT."},
	CodeAuthForbidden:                {"auth.forbidden", 403, "Vous n'avez pas le droit d'effectuer cette action.", "You are not allowed to do this."},
	CodeAuthMetricsLocalOnly:         {"auth.metrics_local_only", 403, "Les métriques ne sont servies qu'à un collecteur sur cette machine, ou avec LIAISON_METRICS_TOKEN.", "Metrics are served only to a scraper on this host, or with LIAISON_METRICS_TOKEN."},
	CodeResourceNotFound:             {"resource.not_found", 404, "L'élément demandé n'existe pas ou ne vous est pas accessible.", "The requested item does not exist or is not accessible to you."},
	CodeRouteNotFound:                {"route.not_found", 404, "Cette adresse n'existe pas.", "This address does not exist."},
	CodeRouteMethodNotAllowed:        {"route.method_not_allowed", 405, "Cette action n'est pas possible à cette adresse.", "This method is not allowed at this address."},
	CodeResourceAlreadyExists:        {"resource.already_exists", 409, "Cet élément existe déjà.", "This item already exists."},
	CodeResourceModified:             {"resource.modified", 409, "Cet élément a été modifié entre-temps ; rechargez-le et recommencez.", "This item was modified meanwhile; reload it and try again."},
	CodeAccountsKeyHolders:           {"accounts.key_holders", 409, "Refusé : les droits d'administration doivent toujours être détenus par au moins deux personnes.", "Refused: administration rights must always be held by at least two people."},
	CodeAccountsSelfRemoval:          {"accounts.self_removal", 409, "Vous ne pouvez pas supprimer votre propre compte.", "You cannot remove your own account."},
	CodeEntsRevoked:                  {"ents.revoked", 409, "Les clés de cet ENT sont révoquées : elles ne peuvent plus être changées.", "This ENT's keys are revoked: they can no longer be changed."},
	CodeConnectorsKeyMissing:         {"connectors.key_missing", 409, "Aucune clé de chiffrement des secrets de connecteur n'est configurée : l'exploitant doit définir LIAISON_CONNECTOR_KEY (ou LIAISON_CONNECTOR_KEY_FILE) avant d'enregistrer un connecteur OpenID Connect.", "No connector secret key is configured: the operator must set LIAISON_CONNECTOR_KEY (or LIAISON_CONNECTOR_KEY_FILE) before registering an OpenID Connect connector."},
	CodeConnectorsSecretUnreadable:   {"connectors.secret_unreadable", 409, "Le secret enregistré de ce connecteur a été chiffré avec une clé qui n'est plus configurée (LIAISON_CONNECTOR_KEY, LIAISON_CONNECTOR_KEY_PREVIOUS) : saisissez à nouveau le secret.", "This connector's stored secret was sealed with a key that is no longer configured (LIAISON_CONNECTOR_KEY, LIAISON_CONNECTOR_KEY_PREVIOUS): enter the secret again."},
	CodeParentsBatchInvalid:          {"parents.batch_invalid", 422, "Le lot de parents contient des erreurs ; rien n'a été enregistré.", "The parent batch has errors; nothing was saved."},
	CodeParentsBatchTooLarge:         {"parents.batch_too_large", 413, "Le lot dépasse 10 000 parents ; découpez-le en plusieurs envois.", "The batch exceeds 10,000 parents; split it into several calls."},
	CodeParentsCSVInvalid:            {"parents.csv_invalid", 422, "Le fichier CSV contient des erreurs ; rien n'a été enregistré.", "The CSV file has errors; nothing was saved."},
	CodeConventionsInvalid:           {"conventions.invalid", 422, "La convention est incomplète ou incohérente.", "The convention is incomplete or inconsistent."},
	CodeConventionsActivationRefused: {"conventions.activation_refused", 422, "La convention ne peut pas encore être activée.", "The convention cannot be activated yet."},
	CodeConventionsAmendmentRefused:  {"conventions.amendment_refused", 422, "L'avenant ne peut pas être enregistré.", "The amendment cannot be recorded."},
	CodeNoticesRefused:               {"notices.refused", 403, "La convention ne permet pas cette publication.", "The convention does not allow this publication."},
	CodeNoticesIdempotencyKeyReused:  {"notices.idempotency_key_reused", 422, "Cette clé d'idempotence a déjà servi pour une autre publication : utilisez une nouvelle clé pour une nouvelle information.", "This idempotency key was already used for a different publication: use a new key for a new notice."},
	CodeNoticesNotEditable:           {"notices.not_editable", 409, "Cette information est retirée ou expirée : elle ne peut plus être modifiée.", "This notice is withdrawn or expired: it can no longer be changed."},
	CodeAttachmentsInvalid:           {"attachments.invalid", 400, "L'envoi du fichier est incomplet ou mal formé : envoyez un formulaire multipart avec le fichier dans le champ « file » et, pour une image, son texte alternatif dans le champ « alt ».", "The file upload is incomplete or malformed: send a multipart form with the file in the \"file\" field and, for an image, its text alternative in the \"alt\" field."},
	CodeAttachmentsUnsupportedType:   {"attachments.unsupported_type", 415, "Ce fichier n'est ni un PDF, ni une image JPEG ou PNG (son contenu a été vérifié, pas seulement son nom) : il est refusé.", "This file is not a PDF, JPEG or PNG (its content was checked, not only its name): it is refused."},
	CodeAttachmentsTooLarge:          {"attachments.too_large", 413, "Ce fichier dépasse 5 Mo : réduisez-le (ou compressez l'image) avant de le joindre.", "This file is larger than 5 MB: reduce it (or compress the image) before attaching it."},
	CodeAttachmentsTooMany:           {"attachments.too_many", 409, "Cette information a déjà 3 pièces jointes : retirez-en une avant d'en ajouter une autre.", "This notice already has 3 attachments: remove one before adding another."},
	CodeAttachmentsAltRequired:       {"attachments.alt_required", 422, "Une image doit être accompagnée d'un texte alternatif qui décrit ce qu'elle montre (accessibilité, RGAA).", "An image needs a text alternative describing what it shows (accessibility, RGAA)."},
	CodeFeedNotSynced:                {"feed.not_synced", 409, "Votre ENT n'a pas encore indiqué à Liaison l'école de vos enfants : vos préférences ne peuvent pas encore être enregistrées.", "Your ENT has not yet told Liaison which school your children attend: your preferences cannot be saved yet."},
	CodeFeedAckNotRequested:          {"feed.ack_not_requested", 409, "Cette information ne demande pas de confirmation de lecture.", "This notice does not ask for an acknowledgement."},
	CodePreferencesCriticalCategory:  {"preferences.critical_category", 422, "Certaines catégories ne peuvent pas être désactivées : elles sont toujours envoyées.", "Some categories cannot be muted: they are always sent."},
	CodePushSubscriptionInvalid:      {"push.subscription_invalid", 422, "Cet abonnement aux notifications n'est pas valide.", "This push subscription is not valid."},
	CodePushTooManySubscriptions:     {"push.too_many_subscriptions", 409, "Vous avez déjà 10 appareils abonnés aux notifications ; désabonnez-en un d'abord.", "You already have 10 devices subscribed to notifications; unsubscribe one first."},
	CodePushParentNotSynced:          {"push.parent_not_synced", 409, "Votre ENT n'a pas encore indiqué à Liaison l'école de vos enfants : les notifications ne peuvent pas encore être activées.", "Your ENT has not yet told Liaison which school your children attend: notifications cannot be turned on yet."},
	CodePushEndpointTaken:            {"push.endpoint_taken", 409, "Ce navigateur reçoit déjà les notifications d'un autre compte parent ; pour les recevoir ici, cet autre parent doit d'abord les désactiver sur cet appareil.", "This browser already receives notifications for another parent account; to receive them here, that parent must first turn them off on this device."},
	CodePushReceiptInvalid:           {"push.receipt_invalid", 403, "Cet accusé de notification n'est pas reconnu.", "This notification receipt is not recognised."},
	CodeRateTooManyConnections:       {"rate.too_many_connections", 429, "Trop de connexions ouvertes depuis votre adresse : fermez-en avant d'en ouvrir une autre.", "Too many open connections from your address: close some before opening another."},
	CodeRateLimited:                  {"rate.limited", 429, "Trop de requêtes : patientez un instant avant de réessayer.", "Too many requests: wait a moment before trying again."},
	CodeServiceUnavailable:           {"service.unavailable", 503, "Le service est momentanément indisponible ; réessayez dans un instant.", "The service is temporarily unavailable; try again shortly."},
	CodeInternalError:                {"internal.error", 500, "Une erreur inattendue s'est produite ; elle a été enregistrée.", "An unexpected error occurred; it has been logged."},
}

// Detail explains one part of an error: a field, an item of a batch or a
// line of a file.
type Detail struct {
	Field   string `json:"field,omitempty"`
	Index   *int   `json:"index,omitempty"`
	Line    int    `json:"line,omitempty"`
	Code    string `json:"code"`
	Message string `json:"message"`
	// fr and en are kept so the negotiated language can be chosen at
	// write time (Text).
	fr, en string
}

// Text is the detail's sentence in lang ("fr" or "en").
func (d Detail) Text(lang string) string {
	switch {
	case lang == "en" && d.en != "":
		return d.en
	case d.fr != "":
		return d.fr
	}
	return d.Message
}

// Error is an API error: a catalog code and optional details.
type Error struct {
	Code    Code
	Details []Detail
	// Extra is merged into the error object (e.g. a convention decision).
	Extra map[string]any
	cause error
}

func (e *Error) Error() string {
	if e.cause != nil {
		return e.Code.String() + ": " + e.cause.Error()
	}
	return e.Code.String()
}

func (e *Error) Unwrap() error { return e.cause }

// Err builds a catalog error. Only the Code constants name a code, so
// an unknown one cannot be written; it panics on a value that is none of
// them (a conversion from an integer), a bug tests catch.
func Err(code Code, details ...Detail) *Error {
	if code.String() == "" {
		panic(fmt.Sprintf("app: error code not in catalog: %d", int(code)))
	}
	return &Error{Code: code, Details: details}
}

// Wrap is Err keeping the error that caused it (for the log, never shown).
func Wrap(code Code, cause error, details ...Detail) *Error {
	e := Err(code, details...)
	e.cause = cause
	return e
}

// NewDetail builds a detail with both languages.
func NewDetail(field, code, fr, en string) Detail {
	return Detail{Field: field, Code: code, fr: fr, en: en}
}

// WithIndex returns a copy of d attributed to item i of a batch.
func WithIndex(d Detail, i int) Detail {
	d.Index = &i
	if d.Field != "" {
		d.Field = fmt.Sprintf("[%d].%s", i, d.Field)
	}
	return d
}

// Status is the HTTP status a code is answered with.
func (c Code) Status() int { return catalog[c].Status }

// Message is the code's sentence in lang ("fr" or "en").
func (c Code) Message(lang string) string {
	return Pick(lang, catalog[c].FR, catalog[c].EN)
}

// Pick is fr, or en when lang is "en".
func Pick(lang, fr, en string) string {
	if lang == "en" {
		return en
	}
	return fr
}

// Cause tells what kind of failure an error is, besides its answer.
type Cause int

const (
	CauseExpected    Cause = iota // an answer like any other
	CauseUnavailable              // the store could not serve: logged, Retry-After, readiness told
	CauseUnknown                  // unexpected: logged, 500
)

// StorageUnavailable is the answer when the store cannot serve now (disk
// full, database unreachable): nothing was changed, try again later.
func StorageUnavailable() *Error {
	return Err(CodeServiceUnavailable, NewDetail("", "storage.unavailable",
		"Les données ne peuvent pas être lues ou enregistrées pour le moment (espace disque plein ou base de données injoignable). Rien n'a été modifié ; réessayez dans quelques minutes. L'incident est signalé à l'exploitant.",
		"The data cannot be read or saved right now (disk full or database unreachable). Nothing was changed; try again in a few minutes. The operator has been alerted."))
}

// AsError is the catalog error an error is answered with — the one place
// that decides it, for every front end (a store.ErrNotFound is a
// resource.not_found everywhere) — and what caused it.
func AsError(err error) (*Error, Cause) {
	var e *Error
	switch {
	case errors.As(err, &e):
		return e, CauseExpected
	case errors.Is(err, store.ErrNotFound):
		return Err(CodeResourceNotFound), CauseExpected
	case errors.Is(err, store.ErrConflict):
		return Err(CodeResourceAlreadyExists), CauseExpected
	case errors.Is(err, store.ErrStale):
		return Err(CodeResourceModified), CauseExpected
	case store.IsUnavailable(err):
		return StorageUnavailable(), CauseUnavailable
	}
	return Err(CodeInternalError), CauseUnknown
}

// Codes lists every catalog code, in catalog order.
func Codes() []Code {
	out := make([]Code, 0, numCodes-1)
	for c := Code(1); c < numCodes; c++ {
		out = append(out, c)
	}
	return out
}
