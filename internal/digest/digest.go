// Package digest is the background job that sends parents their daily
// summary (run by the worker role): the notices of the categories a parent
// chose to get "in one daily summary" (store.Parent.Digest), left out of
// their pushes by the fan-out, go to them as one push a day — « 3
// nouvelles informations » with the titles — that opens the feed.
//
// The summary is written to the push outbox like any push (retries,
// receipts, 410 handling apply), by store.DigestStore.CreateDigest, which
// decides atomically that a parent gets at most one a Paris day, whichever
// worker process writes it and however often the job restarts. A parent
// with nothing pending gets none; a notice withdrawn, expired or no longer
// reaching their children leaves the pending summary.
package digest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/liaison-ent/liaison/conventions"
	"github.com/liaison-ent/liaison/internal/store"
)

const (
	// Every is how often the job looks for summaries due.
	Every = time.Minute
	// Window: a summary goes from its hour until this much later (a
	// worker down at the hour catches up); notices pending after it wait
	// for the next day's hour, so no summary goes late in the evening.
	Window = 2 * time.Hour
	// Keep is how long a summary sent is kept (its results counted, its
	// day's mark) before it is purged.
	Keep = 8 * 24 * time.Hour
	// PurgeEvery spaces the purges of old summaries.
	PurgeEvery = time.Hour
	// pageSize is how many parents a page of pending summaries holds.
	pageSize = 200
	// TTL: how long push services keep a summary not yet delivered (the
	// next day's replaces it).
	TTL = 24 * time.Hour
	// maxBody bounds the list of titles, in characters: a notification
	// shows a few lines.
	maxBody = 180
	// maxTitle bounds one title in the list.
	maxTitle = 60
)

// Options tune a Job.
type Options struct {
	Clock func() time.Time // time.Now when nil
	Log   *slog.Logger     // slog.Default() when nil
}

// Job writes the daily summaries due. Several jobs may run on one store
// (several worker processes): each summary is written once.
type Job struct {
	st        store.Store
	opt       Options
	lastPurge time.Time
}

// New returns a job on st.
func New(st store.Store, opt Options) *Job {
	if opt.Clock == nil {
		opt.Clock = time.Now
	}
	if opt.Log == nil {
		opt.Log = slog.Default()
	}
	return &Job{st: st, opt: opt}
}

// Run runs the job every Every until ctx ends.
func (j *Job) Run(ctx context.Context) {
	t := time.NewTicker(Every)
	defer t.Stop()
	for {
		n, err := j.RunOnce(ctx)
		if err != nil && ctx.Err() == nil {
			j.opt.Log.Error("digest: daily summaries", slog.Any("error", err))
		}
		if n > 0 {
			j.opt.Log.Info("digest: daily summaries written", slog.Int("summaries", n))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// RunOnce writes the summaries due now and reports how many it wrote.
func (j *Job) RunOnce(ctx context.Context) (int, error) {
	now := j.opt.Clock().UTC().Truncate(time.Millisecond)
	if now.Sub(j.lastPurge) >= PurgeEvery {
		if _, err := j.st.PurgeDigests(ctx, now.Add(-Keep), now); err != nil {
			return 0, err
		}
		j.lastPurge = now
	}
	local := now.In(conventions.Paris())
	day := local.Format(time.DateOnly)
	minute := local.Hour()*60 + local.Minute()
	hours := map[string]int{} // convention ID and version → summary minute
	written := 0
	after := ""
	for {
		page, next, err := j.st.PendingDigests(ctx, now, after, pageSize)
		if err != nil {
			return written, err
		}
		for _, p := range page {
			at := j.hourOf(ctx, p.Notices, hours)
			if minute < at || minute >= at+int(Window/time.Minute) {
				continue
			}
			d := Build(p, day, now)
			switch err := j.st.CreateDigest(ctx, d, now); {
			case err == nil:
				written++
			case errors.Is(err, store.ErrConflict):
				// Already summarized today (by another worker, or before a
				// restart): the notices wait for tomorrow's.
			case errors.Is(err, store.ErrStale), errors.Is(err, store.ErrNotFound):
				// A notice withdrawn or published meanwhile, or the parent
				// erased: the next run lists them again.
			default:
				return written, err
			}
		}
		if next == "" {
			break
		}
		after = next
	}
	return written, nil
}

// hourOf is the minute of the Paris day at which a parent's summary goes:
// the earliest of the summary hours of the conventions their pending
// notices come under (conventions.Convention.DigestMinute). A convention
// that cannot be read counts with the default hour.
func (j *Job) hourOf(ctx context.Context, notices []store.Notice, cache map[string]int) int {
	first := -1
	for _, n := range notices {
		key := fmt.Sprintf("%s@%d", n.ConventionID, n.ConventionVersion)
		m, ok := cache[key]
		if !ok {
			var err error
			if m, err = j.conventionMinute(ctx, n); err != nil {
				j.opt.Log.Warn("digest: convention of a notice unreadable; the default summary hour applies",
					slog.String("notice_id", n.ID), slog.Any("error", err))
				var c conventions.Convention
				m = c.DigestMinute()
			}
			cache[key] = m
		}
		if first < 0 || m < first {
			first = m
		}
	}
	return first
}

func (j *Job) conventionMinute(ctx context.Context, n store.Notice) (int, error) {
	versions, err := j.st.ConventionVersions(ctx, n.ConventionID)
	if err != nil {
		return 0, err
	}
	i := slices.IndexFunc(versions, func(v store.ConventionVersion) bool { return v.Version == n.ConventionVersion })
	if i < 0 {
		return 0, errors.New("convention version not found")
	}
	c, err := conventions.ParseDocument(versions[i].Doc)
	if err != nil {
		return 0, err
	}
	return c.DigestMinute(), nil
}

// Build is a parent's summary of day: « 3 nouvelles informations » (in
// English for a parent who reads English) and the titles of the pending
// notices, oldest first, cut to what a notification shows.
func Build(p store.PendingDigest, day string, now time.Time) store.Digest {
	d := store.Digest{ID: store.DigestID(p.ENTID, p.ENTUserID, day), ENTID: p.ENTID, ENTUserID: p.ENTUserID, Day: day,
		CreatedAt: now, ExpiresAt: now.Add(TTL)}
	titles := make([]string, len(p.Notices))
	for i, n := range p.Notices {
		d.NoticeIDs = append(d.NoticeIDs, n.ID)
		titles[i] = n.Title
	}
	en := p.Locale == "en"
	d.Title = Title(len(titles), en)
	d.Body = Body(titles, en)
	return d
}

// Title is the summary's title for n notices.
func Title(n int, en bool) string {
	switch {
	case en && n == 1:
		return "1 new notice"
	case en:
		return fmt.Sprintf("%d new notices", n)
	case n == 1:
		return "1 nouvelle information"
	default:
		return fmt.Sprintf("%d nouvelles informations", n)
	}
}

// Body lists titles, separated by commas: each cut to maxTitle
// characters, the list to maxBody, the titles left out counted (« et 2
// autres »).
func Body(titles []string, en bool) string {
	out := ""
	for i, t := range titles {
		t = cut(strings.Join(strings.Fields(t), " "), maxTitle)
		next := t
		if i > 0 {
			next = out + ", " + t
		}
		// This title goes in if « et N autres » for the ones after it
		// still fits.
		if i > 0 && utf8.RuneCountInString(next)+utf8.RuneCountInString(moreText(len(titles)-i-1, en)) > maxBody {
			return out + moreText(len(titles)-i, en)
		}
		out = next
	}
	return out
}

// moreText counts n titles left out.
func moreText(n int, en bool) string {
	switch {
	case n <= 0:
		return ""
	case en && n == 1:
		return " and 1 more"
	case en:
		return fmt.Sprintf(" and %d more", n)
	case n == 1:
		return " et 1 autre"
	default:
		return fmt.Sprintf(" et %d autres", n)
	}
}

// cut shortens s to at most n characters, ending with "…" when cut.
func cut(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return strings.TrimSpace(string(r[:n-1])) + "…"
}
