package parent

import (
	"encoding/json"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/liaison-ent/liaison/api"
	"github.com/liaison-ent/liaison/app"
	"github.com/liaison-ent/liaison/conventions"
)

// msg is a sentence in French and English.
type msg struct{ FR, EN string }

// The pages' fixed messages.
var (
	msgUnknownENT    = msg{"Cette adresse ne correspond à aucun ENT relié à Liaison.", "This address matches no ENT connected to Liaison."}
	msgENTRevoked    = msg{"Liaison n'est plus ouvert pour cet ENT. Adressez-vous à votre ENT.", "Liaison is no longer open for this ENT. Contact your ENT."}
	msgForeignOrigin = msg{"Requête refusée : elle ne provient pas de ce site.", "Request refused: it does not come from this site."}
	msgCSRF          = msg{"Formulaire refusé : le jeton de sécurité est absent ou périmé. Rechargez la page et recommencez.", "Form refused: the security token is missing or stale. Reload the page and try again."}
	msgNoConnector   = msg{"La connexion par l'ENT n'est pas encore configurée pour cet ENT.", "Signing in through the ENT is not configured yet for this ENT."}
	msgNotParent     = msg{"Ce service est réservé aux parents d'élèves.", "This service is for pupils' parents only."}
	msgUnavailable   = msg{"Le service est momentanément indisponible. Réessayez dans quelques minutes.", "The service is temporarily unavailable. Try again in a few minutes."}
	msgExpired       = msg{"Votre session a expiré : reconnectez-vous par votre ENT.", "Your session has expired: sign in again through your ENT."}
)

// feedPageSize is how many notices a page of the feed shows (a variable
// for the tests).
var feedPageSize = 20

// feed is the ENT's page: the parent's feed, or the signed-out page.
func (p *Page) feed(r *rq) error {
	if r.sess == nil {
		if code := r.c.Query("refus"); code != "" {
			if _, ok := refusals[code]; ok {
				// A refused sign-in's page, again (the language switch).
				return p.refuse(r, code, r.c.Query("iframe") == "1")
			}
		}
		return p.signedOut(r, fiber.StatusOK, false)
	}
	cursor := r.c.Query("apres")
	pg, err := p.core.Feed(r.c.UserContext(), r.pr, app.FeedRequest{Cursor: cursor, Limit: feedPageSize})
	if err != nil {
		return p.appError(r, err)
	}
	defer pg.Release()
	d := feedData{Synced: pg.Synced, Unread: pg.UnreadCount, First: cursor == ""}
	if !pg.Synced {
		d.NotSynced = app.NotSynced.In(r.lang)
	}
	for i := range pg.Items {
		d.Items = append(d.Items, itemOf(r.lang, &pg.Items[i]))
	}
	if pg.NextCursor != "" {
		d.Next = r.base() + "?apres=" + url.QueryEscape(pg.NextCursor)
	}
	if cursor == "" {
		// The service worker keeps this page for offline reading.
		r.c.Set("X-Liaison-Page", "feed")
	}
	return p.render(r, fiber.StatusOK, "feed", r.L("Informations de la commune", "Notices from the town"), d)
}

// wantsJSON: the page's script posts with Accept: application/json and
// gets the result; a plain form is redirected back.
func wantsJSON(c *fiber.Ctx) bool {
	return strings.Contains(c.Get(fiber.HeaderAccept), fiber.MIMEApplicationJSON)
}

// attachmentPath is a notice's file, relative to the page (whose address
// ends with a slash).
func attachmentPath(noticeID, id string) string {
	return "pieces-jointes/" + url.PathEscape(noticeID) + "/" + url.PathEscape(id)
}

// attachment sends a file of a notice in the signed-in parent's feed;
// anyone else — signed out, another school's parent — gets 404.
func (p *Page) attachment(r *rq) error {
	if r.sess == nil {
		return p.message(r, fiber.StatusNotFound, msg{app.CodeResourceNotFound.Message("fr"), app.CodeResourceNotFound.Message("en")})
	}
	f, err := p.core.FeedAttachment(r.c.UserContext(), r.pr, r.c.Params("notice"), r.c.Params("att"))
	if err != nil {
		return p.appError(r, err)
	}
	return api.SendAttachment(r.c, f)
}

func (p *Page) markRead(r *rq) error {
	res, err := p.core.MarkRead(r.c.UserContext(), r.pr, app.NoticeRequest{NoticeID: r.c.Params("notice")})
	return p.readAnswer(r, res, err)
}

func (p *Page) acknowledge(r *rq) error {
	res, err := p.core.Acknowledge(r.c.UserContext(), r.pr, app.NoticeRequest{NoticeID: r.c.Params("notice")})
	return p.readAnswer(r, res, err)
}

func (p *Page) readAnswer(r *rq, res app.ReadResult, err error) error {
	if wantsJSON(r.c) {
		if err != nil {
			return p.jsonError(r, err)
		}
		return r.c.JSON(fiber.Map{"read": res.Read, "acknowledged": res.Acknowledged, "unread_count": res.UnreadCount})
	}
	if err != nil {
		return p.appError(r, err)
	}
	return r.c.Redirect(r.base()+"#n-"+url.PathEscape(res.NoticeID), fiber.StatusSeeOther)
}

func (p *Page) markAllRead(r *rq) error {
	if _, err := p.core.MarkAllRead(r.c.UserContext(), r.pr); err != nil {
		return p.appError(r, err)
	}
	return r.c.Redirect(r.base(), fiber.StatusSeeOther)
}

// jsonError answers the page's script with a catalog error.
func (p *Page) jsonError(r *rq, err error) error {
	e, cause := app.AsError(err)
	if cause != app.CauseExpected {
		p.log.Error("parent page: store unavailable")
		e = app.StorageUnavailable()
	}
	return r.c.Status(e.Code.Status()).JSON(fiber.Map{"code": e.Code.String(), "message": e.Code.Message(r.lang), "details": detailTexts(e, r.lang)})
}

// savedFlash is the message a form's page shows once its answers are
// saved (?ok=1, where saving redirects), "" otherwise.
func savedFlash(r *rq, fr, en string) string {
	if r.c.Query("ok") == "1" {
		return r.L(fr, en)
	}
	return ""
}

// preferences shows the muted categories (critical ones locked, with the
// reason) and the language.
func (p *Page) preferences(r *rq) error {
	prefs, err := p.core.Preferences(r.c.UserContext(), r.pr)
	if err != nil {
		return p.appError(r, err)
	}
	flash := savedFlash(r, "Vos préférences sont enregistrées.", "Your preferences are saved.")
	return p.renderPrefs(r, fiber.StatusOK, prefs, flash, nil)
}

func (p *Page) renderPrefs(r *rq, status int, prefs app.Preferences, flash string, e *app.Error) error {
	d := prefsData{Synced: prefs.Synced, Locale: prefs.Locale, Note: prefs.Note.In(r.lang), Flash: flash}
	if !prefs.Synced {
		d.NotSynced = app.NotSynced.In(r.lang)
	}
	for _, c := range prefs.Categories {
		d.Categories = append(d.Categories, categoryView{Code: c.Code, Label: c.Label.In(r.lang), Muted: c.Muted,
			Digest: c.Digest, Mutable: c.Mutable, Reason: c.Reason.In(r.lang)})
	}
	if e != nil {
		d.Error, d.Details = e.Code.Message(r.lang), detailTexts(e, r.lang)
	}
	return p.render(r, status, "preferences", r.L("Préférences", "Preferences"), d)
}

// savePreferences saves how each category reaches the parent — "d-CODE"
// is "now" (a push each), "digest" (the daily summary) or "feed" (feed
// only, muted); an older form's "muted" boxes still count — and the
// language; a refusal (a critical category) is shown on the form with
// app's reason, nothing saved.
func (p *Page) savePreferences(r *rq) error {
	ctx := r.c.UserContext()
	var req app.PreferencesRequest
	muted, digest := []string{}, []string{}
	args := r.c.Request().PostArgs()
	for _, v := range args.PeekMulti("muted") {
		muted = append(muted, string(v))
	}
	for _, code := range conventions.Categories {
		switch string(args.Peek("d-" + code)) {
		case "feed":
			if !slices.Contains(muted, code) {
				muted = append(muted, code)
			}
		case "digest":
			digest = append(digest, code)
		}
	}
	req.Muted, req.Digest = &muted, &digest
	if l := string(args.Peek("locale")); l != "" {
		req.Locale = &l
	}
	prefs, err := p.core.SetPreferences(ctx, r.pr, req)
	if err != nil {
		e, cause := app.AsError(err)
		if cause != app.CauseExpected {
			return p.unavailable(r, err)
		}
		cur, err2 := p.core.Preferences(ctx, r.pr)
		if err2 != nil {
			return p.appError(r, err2)
		}
		// Show what was asked, so the parent sees what was refused.
		for i := range cur.Categories {
			cur.Categories[i].Muted = slices.Contains(muted, cur.Categories[i].Code) && cur.Categories[i].Mutable
			cur.Categories[i].Digest = slices.Contains(digest, cur.Categories[i].Code) && cur.Categories[i].Mutable && !cur.Categories[i].Muted
		}
		return p.renderPrefs(r, e.Code.Status(), cur, "", e)
	}
	// The page follows the language saved.
	p.cookie(r.c, langCookie, prefs.Locale, r.base(), 365*24*time.Hour, r.sess.Iframe)
	return r.c.Redirect(r.base()+"preferences?ok=1", fiber.StatusSeeOther)
}

// notifications is the page that turns push on or off on this device
// (its script does, with the browser's Push API).
func (p *Page) notifications(r *rq) error {
	d := notifData{Synced: r.me.Synced}
	if !r.me.Synced {
		d.NotSynced = app.NotSynced.In(r.lang)
	}
	return p.render(r, fiber.StatusOK, "notifications", r.L("Notifications", "Notifications"), d)
}

// subscribe stores this device's push subscription (app.Subscribe).
func (p *Page) subscribe(r *rq) error {
	var req app.SubscriptionRequest
	if err := json.Unmarshal(r.c.Body(), &req); err != nil {
		return p.jsonError(r, app.Err(app.CodeRequestMalformedJSON))
	}
	if _, err := p.core.Subscribe(r.c.UserContext(), r.pr, req); err != nil {
		return p.jsonError(r, err)
	}
	return r.c.JSON(fiber.Map{"message": r.L("Les notifications sont activées sur cet appareil.", "Notifications are on for this device.")})
}

// unsubscribe removes this device's subscription, named by its endpoint
// (app.Subscriptions, app.Unsubscribe). Idempotent.
func (p *Page) unsubscribe(r *rq) error {
	var req struct {
		Endpoint string `json:"endpoint"`
	}
	if err := json.Unmarshal(r.c.Body(), &req); err != nil || req.Endpoint == "" {
		return p.jsonError(r, app.Err(app.CodeRequestMalformedJSON))
	}
	ctx := r.c.UserContext()
	subs, err := p.core.Subscriptions(ctx, r.pr)
	if err != nil {
		return p.jsonError(r, err)
	}
	for _, s := range subs {
		if s.Endpoint == req.Endpoint {
			if err := p.core.Unsubscribe(ctx, r.pr, app.UnsubscribeRequest{ID: s.ID}); err != nil {
				return p.jsonError(r, err)
			}
		}
	}
	return r.c.JSON(fiber.Map{"message": r.L("Les notifications sont désactivées sur cet appareil.", "Notifications are off for this device.")})
}

// signedOut is the page of a visitor without a session: sign in through
// the ENT.
func (p *Page) signedOut(r *rq, status int, expired bool) error {
	alert := ""
	if expired {
		alert = r.L(msgExpired.FR, msgExpired.EN)
	}
	return p.signedOutWith(r, status, alert, r.c.Query("iframe") == "1")
}

// signedOutWith is the signed-out page with an alert (a refused sign-in,
// an expired session); iframe: its sign-in link keeps the page in the
// ENT's iframe mode.
func (p *Page) signedOutWith(r *rq, status int, alert string, iframe bool) error {
	d := signedOutData{SignIn: r.base() + "connexion", Expired: alert}
	if iframe {
		d.SignIn += "?iframe=1"
	}
	r.c.Set("X-Liaison-Page", "signed-out")
	return p.render(r, status, "signedout", r.L("Connectez-vous par votre ENT", "Sign in through your ENT"), d)
}

// message is a page with one sentence (and details).
func (p *Page) message(r *rq, status int, m msg, details ...string) error {
	return p.render(r, status, "message", r.L(m.FR, m.EN), messageData{Details: details})
}

// Views.

type feedData struct {
	Synced    bool
	NotSynced string
	Unread    int
	Items     []itemView
	Next      string
	First     bool
}

type itemView struct {
	ID, Category, CategoryLabel, Title, Body, Date, Publisher string
	Unread, AckRequired, Acked, Urgent                        bool
	Correction                                                string
	Menu                                                      []dayView
	Transport                                                 *transportView
	Images                                                    []imageView
	Files                                                     []fileView
}

// imageView is an image attachment: shown with its text alternative.
type imageView struct{ URL, Alt string }

// fileView is a PDF attachment: a link with its name and size.
type fileView struct{ URL, Label string }

type dayView struct {
	Date, Note string
	NoService  bool
	Dishes     []dishView
}

type dishView struct {
	Course, Name      string
	Allergens, Labels []string
}

type transportView struct {
	Line, From, To, Replacement, Cause string
	Stops                              []string
}

type prefsData struct {
	Synced     bool
	NotSynced  string
	Locale     string
	Categories []categoryView
	Note       string
	Flash      string
	Error      string
	Details    []string
}

type categoryView struct {
	Code, Label, Reason    string
	Muted, Digest, Mutable bool
}

type notifData struct {
	Synced    bool
	NotSynced string
}

type signedOutData struct {
	SignIn  string
	Expired string
}

type messageData struct {
	Details []string
}

var courseLabels = map[string]msg{
	"entree": {"Entrée", "Starter"}, "plat": {"Plat", "Main course"}, "accompagnement": {"Accompagnement", "Side dish"},
	"laitage": {"Laitage", "Dairy"}, "dessert": {"Dessert", "Dessert"}, "gouter": {"Goûter", "Afternoon snack"},
}

var dishLabels = map[string]msg{
	"bio": {"bio", "organic"}, "local": {"local", "local"}, "label_rouge": {"Label Rouge", "Label Rouge"},
	"aop": {"AOP", "PDO"}, "peche_durable": {"pêche durable", "sustainable fishing"},
	"vegetarien": {"végétarien", "vegetarian"}, "fait_maison": {"fait maison", "homemade"},
}

func pick(lang string, m msg, fallback string) string {
	if m.FR == "" {
		return fallback
	}
	return app.Pick(lang, m.FR, m.EN)
}

func allergenName(lang, code string) string {
	for _, a := range app.Allergens {
		if a.Code == code {
			return app.Pick(lang, a.FR, a.EN)
		}
	}
	return code
}

// itemOf lays a feed item out for the page, its structured content
// (menu, transport) in the reader's language.
func itemOf(lang string, it *app.FeedItem) itemView {
	v := itemView{ID: it.ID, Category: it.Category, Title: it.Title, Body: it.Body,
		Date: formatDateTime(lang, it.PublishAt), Publisher: it.CollectiviteName,
		Unread: !it.Read, AckRequired: it.AckRequired, Acked: it.Acknowledged, Urgent: it.Priority == "urgent"}
	if l, ok := app.CategoryLabels[it.Category]; ok {
		v.CategoryLabel = app.Pick(lang, l.FR, l.EN)
	} else {
		v.CategoryLabel = it.Category
	}
	for _, a := range it.Attachments {
		u := attachmentPath(it.ID, a.ID)
		if app.IsImage(a.ContentType) {
			v.Images = append(v.Images, imageView{URL: u, Alt: a.Alt})
		} else {
			v.Files = append(v.Files, fileView{URL: u, Label: app.AttachmentLabel(a.Name, a.Size, lang)})
		}
	}
	if it.Corrected {
		v.Correction = app.Pick(lang, "Information corrigée", "Corrected notice")
		if it.CorrectionReason != "" {
			v.Correction += " : " + it.CorrectionReason
		}
	}
	if len(it.Content) == 0 {
		return v
	}
	var ct app.NoticeContent
	if json.Unmarshal(it.Content, &ct) != nil {
		return v
	}
	if ct.Menu != nil {
		for _, d := range ct.Menu.Days {
			dv := dayView{Date: formatDay(lang, d.Date), Note: d.Note, NoService: d.NoService}
			for _, x := range d.Dishes {
				dish := dishView{Course: pick(lang, courseLabels[x.Course], x.Course), Name: x.Name}
				for _, a := range x.Allergens {
					dish.Allergens = append(dish.Allergens, allergenName(lang, a))
				}
				for _, l := range x.Labels {
					dish.Labels = append(dish.Labels, pick(lang, dishLabels[l], l))
				}
				dv.Dishes = append(dv.Dishes, dish)
			}
			v.Menu = append(v.Menu, dv)
		}
	}
	if tr := ct.Transport; tr != nil {
		tv := &transportView{Line: tr.Line, Stops: tr.Stops, Replacement: tr.Replacement, Cause: tr.Cause}
		if tr.From != nil {
			tv.From = formatDateTime(lang, *tr.From)
		}
		if tr.To != nil {
			tv.To = formatDateTime(lang, *tr.To)
		}
		v.Transport = tv
	}
	return v
}

var paris = conventions.Paris()

var monthsEN = [...]string{"", "January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"}
var monthsFR = [...]string{"", "janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre", "novembre", "décembre"}
var daysFR = [...]string{"dimanche", "lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi"}

func formatDateTime(lang string, t time.Time) string {
	p := t.In(paris)
	if lang == "en" {
		return p.Format("2 January 2006 at 15:04")
	}
	d := itoa(p.Day())
	if p.Day() == 1 {
		d = "1er"
	}
	return d + "\u00a0" + monthsFR[p.Month()] + " " + itoa(p.Year()) + " à " + itoa(p.Hour()) + "\u00a0h\u00a0" + p.Format("04")
}

func formatDay(lang, d string) string {
	t, err := time.ParseInLocation(time.DateOnly, d, paris)
	if err != nil {
		return d
	}
	if lang == "en" {
		return t.Weekday().String() + " " + itoa(t.Day()) + " " + monthsEN[t.Month()]
	}
	return daysFR[t.Weekday()] + " " + itoa(t.Day()) + "\u00a0" + monthsFR[t.Month()]
}

func itoa(n int) string { return strconv.Itoa(n) }
