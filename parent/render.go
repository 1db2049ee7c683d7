package parent

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"html/template"
	"io/fs"
	"strings"

	"github.com/gofiber/fiber/v2"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// assets are the embedded static files, served under a content-hash name
// with long-lived caching.
type assets struct {
	files map[string][]byte // hashed name → content
	types map[string]string
	urls  map[string]string // name → URL
}

// URL is the address of a static file by its plain name.
func (a assets) URL(name string) string { return a.urls[name] }

var staticTypes = map[string]string{
	".css": "text/css; charset=utf-8",
	".js":  "text/javascript; charset=utf-8",
	".png": "image/png",
}

func loadAssets() (assets, error) {
	as := assets{files: map[string][]byte{}, types: map[string]string{}, urls: map[string]string{}}
	entries, err := fs.ReadDir(staticFS, "static")
	if err != nil {
		return as, err
	}
	for _, e := range entries {
		name := e.Name()
		b, err := fs.ReadFile(staticFS, "static/"+name)
		if err != nil {
			return as, err
		}
		sum := sha256.Sum256(b)
		dot := strings.LastIndexByte(name, '.')
		hashed := name[:dot] + "." + hex.EncodeToString(sum[:6]) + name[dot:]
		as.files[hashed] = b
		as.types[hashed] = staticTypes[name[dot:]]
		as.urls[name] = Prefix + "static/" + hashed
	}
	return as, nil
}

func (p *Page) static(c *fiber.Ctx) error {
	name := c.Params("name")
	b, ok := p.assets.files[name]
	if !ok {
		return c.Status(fiber.StatusNotFound).SendString("not found")
	}
	c.Set(fiber.HeaderContentType, p.assets.types[name])
	c.Set(fiber.HeaderCacheControl, "public, max-age=31536000, immutable")
	return c.Send(b)
}

type pageTemplate struct{ t *template.Template }

var pageNames = []string{"feed", "preferences", "enrolments", "notifications", "signedout", "message"}

func parseTemplates() (map[string]*pageTemplate, error) {
	out := map[string]*pageTemplate{}
	for _, name := range pageNames {
		t, err := template.New(name).ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, err
		}
		out[name] = &pageTemplate{t: t}
	}
	return out, nil
}

// view is what every page's layout gets.
type view struct {
	Lang, Title, Base, CSRF, Page, Path, ENTName string
	SignedIn                                     bool
	Assets                                       assets
	Data                                         any
}

// L picks the French or English text.
func (v view) L(fr, en string) string {
	if v.Lang == "en" {
		return en
	}
	return fr
}

// Current marks the page being shown in the navigation.
func (v view) Current(page string) bool { return v.Page == page }

func (p *Page) render(r *rq, status int, page, title string, data any) error {
	v := view{Lang: r.lang, Title: title, CSRF: r.csrf(), Page: page, Path: r.returnPath(),
		SignedIn: r.sess != nil, Assets: p.assets, Data: data}
	if r.ent.ID != "" {
		v.Base, v.ENTName = r.base(), r.ent.Name
	}
	var buf bytes.Buffer
	if err := p.tmpl[page].t.ExecuteTemplate(&buf, "layout", v); err != nil {
		p.log.Error("parent page: template failed: " + err.Error())
		r.c.Set(fiber.HeaderContentType, fiber.MIMETextPlainCharsetUTF8)
		return r.c.Status(fiber.StatusInternalServerError).SendString(r.L(msgUnavailable.FR, msgUnavailable.EN))
	}
	r.c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	r.c.Set(fiber.HeaderContentLanguage, r.lang)
	return r.c.Status(status).Send(buf.Bytes())
}

// returnPath is where the language switch comes back to: the page's own
// address, or the one a handler set (a sign-in callback's address holds a
// one-time ticket or code).
func (r *rq) returnPath() string {
	if r.path != "" {
		return r.path
	}
	return string(r.c.Request().URI().RequestURI())
}
