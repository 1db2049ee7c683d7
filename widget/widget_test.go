package widget

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"
)

// maxGzipped is the budget of the widget script, gzipped.
const maxGzipped = 20 << 10

func TestFeedScriptSize(t *testing.T) {
	a, err := New("https://liaison.example.fr")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	zw.Write(a.Get(FeedScript).Body)
	zw.Close()
	t.Logf("%s: %d bytes, %d gzipped (budget %d)", FeedScript, len(a.Get(FeedScript).Body), buf.Len(), maxGzipped)
	if buf.Len() > maxGzipped {
		t.Fatalf("%s is %d bytes gzipped, over the %d budget", FeedScript, buf.Len(), maxGzipped)
	}
}

func TestFeedScriptNeverWritesHTML(t *testing.T) {
	a, _ := New("")
	js := string(a.Get(FeedScript).Body)
	for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"} {
		if strings.Contains(js, bad) {
			t.Errorf("%s uses %s: notice text must be rendered as text", FeedScript, bad)
		}
	}
}

func TestServiceWorkerAPIBase(t *testing.T) {
	a, _ := New("https://liaison.example.fr/")
	sw := string(a.Get(SWScript).Body)
	if !strings.Contains(sw, "self.LIAISON_API_BASE || 'https://liaison.example.fr'") || strings.Contains(sw, "__LIAISON") {
		t.Fatalf("API base not injected:\n%s", sw[:600])
	}
	b, _ := New("https://other.example.fr")
	if b.Get(SWScript).Hash == a.Get(SWScript).Hash {
		t.Fatal("the hash does not follow the content")
	}
}

func TestServe(t *testing.T) {
	a, _ := New("https://liaison.example.fr")
	app := fiber.New()
	app.Get(Prefix+FeedScript, a.Handler(FeedScript))
	get := func(url string, hdr ...string) (int, string, string, string, []byte) {
		req := httptest.NewRequest("GET", url, nil)
		if len(hdr) > 0 {
			req.Header.Set("If-None-Match", hdr[0])
		}
		res, err := app.Test(req, -1)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		return res.StatusCode, res.Header.Get("Cache-Control"), res.Header.Get("ETag"), res.Header.Get("Content-Type"), body
	}
	st, cc, etag, ct, body := get(a.URL(FeedScript))
	if st != 200 || cc != "public, max-age=31536000, immutable" || etag == "" || !strings.HasPrefix(ct, "text/javascript") || !bytes.Equal(body, a.Get(FeedScript).Body) {
		t.Fatalf("hashed URL: %d %q %q %q", st, cc, etag, ct)
	}
	if st, cc, _, _, _ = get(Prefix + FeedScript + "?v=old"); st != 200 || cc != "public, max-age=300" {
		t.Fatalf("stale hash: %d %q", st, cc)
	}
	if st, _, _, _, body = get(Prefix+FeedScript, etag); st != 304 || len(body) != 0 {
		t.Fatalf("If-None-Match: %d", st)
	}
}
