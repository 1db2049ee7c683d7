package conventions

// DefaultDigestHour is when the daily summary goes (Europe/Paris) when the
// convention sets no Limits.DigestHour.
const DefaultDigestHour = "18:00"

// DigestMinute is the Paris wall-clock minute after midnight at which the
// daily summary of c's notices goes: Limits.DigestHour ("HH:MM", before
// 24:00), else DefaultDigestHour. An invalid hour (ValidateConvention
// refuses it) falls back to the default.
func (c *Convention) DigestMinute() int {
	if m, ok := digestClock(c.Limits.DigestHour); ok {
		return m
	}
	m, _ := parseClock(DefaultDigestHour)
	return m
}

// digestClock parses a summary hour: "HH:MM" from 00:00 to 23:59.
func digestClock(s string) (int, bool) {
	m, ok := parseClock(s)
	return m, ok && m < 24*60
}
