package conventions

import "time"

// parseClock parses "HH:MM" (00:00–23:59, also "24:00") into minutes since
// midnight without allocating.
func parseClock(s string) (int, bool) {
	if len(s) != 5 || s[2] != ':' {
		return 0, false
	}
	for _, i := range [...]int{0, 1, 3, 4} {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	h := int(s[0]-'0')*10 + int(s[1]-'0')
	m := int(s[3]-'0')*10 + int(s[4]-'0')
	if m > 59 || h > 24 || (h == 24 && m != 0) {
		return 0, false
	}
	return h*60 + m, true
}

// Valid reports whether From and To are both "HH:MM" wall-clock times.
func (q QuietHours) Valid() bool {
	_, ok1 := parseClock(q.From)
	_, ok2 := parseClock(q.To)
	return ok1 && ok2
}

// bounds returns the window in minutes; invalid quiet hours fall back to
// DefaultQuietHours (the conservative choice: never push at night because
// of a typo). ValidateConvention reports invalid quiet hours.
func (q QuietHours) bounds() (from, to int) {
	f, ok1 := parseClock(q.From)
	t, ok2 := parseClock(q.To)
	if !ok1 || !ok2 {
		f, _ = parseClock(DefaultQuietHours.From)
		t, _ = parseClock(DefaultQuietHours.To)
	}
	return f % (24 * 60), t % (24 * 60)
}

// Contains reports whether t falls inside the quiet hours (Europe/Paris wall
// clock, From included, To excluded).
func (q QuietHours) Contains(t time.Time) bool {
	return !q.NextPush(t).Equal(t)
}

// NextPush returns t when t is outside the quiet hours, else the end of the
// quiet hours (the next To wall-clock time in Europe/Paris). Windows crossing
// midnight and daylight-saving changes are handled: a push held at 21:00 on
// the night of the spring change is released at 07:30 CEST, 9 h 30 later instead of 10 h 30.
func (q QuietHours) NextPush(t time.Time) time.Time {
	from, to := q.bounds()
	if from == to {
		return t
	}
	lt := t.In(paris)
	m := lt.Hour()*60 + lt.Minute()
	y, mo, d := lt.Date()
	var end time.Time
	switch {
	case from < to && m >= from && m < to:
		end = time.Date(y, mo, d, to/60, to%60, 0, 0, paris)
	case from > to && m >= from:
		end = time.Date(y, mo, d+1, to/60, to%60, 0, 0, paris)
	case from > to && m < to:
		end = time.Date(y, mo, d, to/60, to%60, 0, 0, paris)
	default:
		return t
	}
	if end.Before(t) { // only possible for a To inside a DST overlap
		return t
	}
	return end
}

// NextPushTime returns when a push prepared at t may be sent: t for urgent
// or critical notices or when qh is nil, else qh.NextPush(t).
func NextPushTime(qh *QuietHours, priority string, critical bool, t time.Time) time.Time {
	if qh == nil || critical || priority == PriorityUrgent {
		return t
	}
	return qh.NextPush(t)
}

// PushAt returns when the push of an allowed notice published at t may be
// sent (t itself when no quiet hours apply). It returns the zero time when
// the decision carries no push.
func (d Decision) PushAt(t time.Time) time.Time {
	if !d.Allowed || !d.Push {
		return time.Time{}
	}
	if d.QuietHours == nil {
		return t
	}
	return d.QuietHours.NextPush(t)
}
