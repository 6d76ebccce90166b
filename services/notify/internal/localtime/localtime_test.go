package localtime

import (
	"testing"
	"time"
	_ "time/tzdata" // the same zone rules on every machine that runs the tests
)

func zone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatalf("load %s: %v", name, err)
	}
	return loc
}

func at(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatalf("parse %s: %v", s, err)
	}
	return v
}

func clock(t *testing.T, s string) Clock {
	t.Helper()
	c, ok, err := ParseHHMM(s)
	if err != nil || !ok {
		t.Fatalf("ParseHHMM(%q) = %v, %v, %v", s, c, ok, err)
	}
	return c
}

func TestParseHHMM(t *testing.T) {
	tests := []struct {
		in      string
		want    Clock
		ok      bool
		wantErr bool
	}{
		{"", Clock{}, false, false},
		{"00:00", Clock{0, 0}, true, false},
		{"07:30", Clock{7, 30}, true, false},
		{"23:59", Clock{23, 59}, true, false},
		{"24:00", Clock{}, false, true},
		{"07:60", Clock{}, false, true},
		{"7:30", Clock{}, false, true},
		{"07-30", Clock{}, false, true},
		{"0730", Clock{}, false, true},
		{" 07:30", Clock{}, false, true},
		{"+7:30", Clock{}, false, true},
		{"07:3x", Clock{}, false, true},
	}
	for _, tt := range tests {
		got, ok, err := ParseHHMM(tt.in)
		if got != tt.want || ok != tt.ok || (err != nil) != tt.wantErr {
			t.Errorf("ParseHHMM(%q) = %v, %v, %v; want %v, %v, error %v", tt.in, got, ok, err, tt.want, tt.ok, tt.wantErr)
		}
		if ok && got.String() != tt.in {
			t.Errorf("Clock(%q).String() = %q", tt.in, got.String())
		}
	}
}

func TestNextAt(t *testing.T) {
	tests := []struct {
		name, zone, after, at, want string
	}{
		{"same wall clock on the day the clocks spring forward", "America/New_York",
			"2026-03-07T09:00:00-05:00", "08:00", "2026-03-08T08:00:00-04:00"},
		{"strictly after: not the instant itself", "America/New_York",
			"2026-03-10T08:00:00-04:00", "08:00", "2026-03-11T08:00:00-04:00"},
		{"02:30 does not exist: first instant after the gap", "America/New_York",
			"2026-03-07T02:30:00-05:00", "02:30", "2026-03-08T03:00:00-04:00"},
		{"02:30 missing, asked just before the gap", "America/New_York",
			"2026-03-08T01:59:00-05:00", "02:30", "2026-03-08T03:00:00-04:00"},
		{"after the gap's reminder, the next is tomorrow", "America/New_York",
			"2026-03-08T03:00:00-04:00", "02:30", "2026-03-09T02:30:00-04:00"},
		{"01:30 happens twice: the first", "America/New_York",
			"2026-10-31T01:30:00-04:00", "01:30", "2026-11-01T01:30:00-04:00"},
		{"01:30 happens twice: the second is skipped", "America/New_York",
			"2026-11-01T01:30:00-04:00", "01:30", "2026-11-02T01:30:00-05:00"},
		{"inside the repeated hour, after the first 01:30", "America/New_York",
			"2026-11-01T01:10:00-05:00", "01:30", "2026-11-02T01:30:00-05:00"},
		{"Berlin 02:30 does not exist", "Europe/Berlin",
			"2026-03-28T02:30:00+01:00", "02:30", "2026-03-29T03:00:00+02:00"},
		{"Berlin after the gap's reminder", "Europe/Berlin",
			"2026-03-29T03:00:00+02:00", "02:30", "2026-03-30T02:30:00+02:00"},
		{"Berlin 02:30 happens twice: the first", "Europe/Berlin",
			"2026-10-24T12:00:00+02:00", "02:30", "2026-10-25T02:30:00+02:00"},
		{"Berlin 02:30 twice: the second is skipped", "Europe/Berlin",
			"2026-10-25T02:30:00+02:00", "02:30", "2026-10-26T02:30:00+01:00"},
		{"Berlin evening reminder after fall back", "Europe/Berlin",
			"2026-10-24T21:00:00+02:00", "20:00", "2026-10-25T20:00:00+01:00"},
		{"midnight does not exist in Santiago", "America/Santiago",
			"2026-09-05T12:00:00-04:00", "00:00", "2026-09-06T01:00:00-03:00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := NextAt(at(t, tt.after), zone(t, tt.zone), clock(t, tt.at))
			if want := at(t, tt.want); !got.Equal(want) {
				t.Errorf("NextAt(%s, %s) = %s, want %s", tt.after, tt.at, got, want)
			}
		})
	}
}

// A daily reminder fed back into NextAt fires exactly once per local day,
// through both DST changes.
func TestDailyReminderFiresOncePerDay(t *testing.T) {
	tests := []struct{ zone, start, at string }{
		{"America/New_York", "2026-03-05T12:00:00Z", "02:30"},
		{"America/New_York", "2026-10-29T12:00:00Z", "01:30"},
		{"Europe/Berlin", "2026-03-26T12:00:00Z", "02:30"},
		{"Europe/Berlin", "2026-10-22T12:00:00Z", "02:30"},
		{"Europe/Berlin", "2026-10-22T12:00:00Z", "02:00"},
	}
	for _, tt := range tests {
		t.Run(tt.zone+" "+tt.at+" "+tt.start, func(t *testing.T) {
			loc, c := zone(t, tt.zone), clock(t, tt.at)
			last := at(t, tt.start)
			prevDate := LocalDate(last, loc)
			for i := range 7 {
				next := NextAt(last, loc, c)
				date := LocalDate(next, loc)
				wantDate := civilDate(at(t, prevDate+"T00:00:00Z")).AddDate(0, 0, 1).Format(time.DateOnly)
				if date != wantDate {
					t.Fatalf("after %s the reminder fires %s (local %s), want local date %s", last, next, next.In(loc), wantDate)
				}
				if gap := next.Sub(last); i > 0 && (gap < 22*time.Hour || gap > 26*time.Hour) {
					t.Fatalf("reminders %s and %s are %s apart", last, next, gap)
				}
				last, prevDate = next, date
			}
		})
	}
}

func TestInWindow(t *testing.T) {
	tests := []struct {
		name, zone, t, start, end string
		want                      bool
	}{
		{"late evening is quiet", "America/New_York", "2026-03-07T23:00:00-05:00", "22:00", "07:00", true},
		{"start is inside", "America/New_York", "2026-03-07T22:00:00-05:00", "22:00", "07:00", true},
		{"just before start", "America/New_York", "2026-03-07T21:59:59-05:00", "22:00", "07:00", false},
		{"just before end", "America/New_York", "2026-03-08T06:59:59-04:00", "22:00", "07:00", true},
		{"end is outside", "America/New_York", "2026-03-08T07:00:00-04:00", "22:00", "07:00", false},
		{"after the gap, still quiet", "America/New_York", "2026-03-08T03:30:00-04:00", "22:00", "07:00", true},
		{"07:30 wall clock after spring forward", "America/New_York", "2026-03-08T11:30:00Z", "22:00", "07:00", false},
		{"06:30 wall clock after fall back", "America/New_York", "2026-11-01T11:30:00Z", "22:00", "07:00", true},
		{"07:00 wall clock after fall back", "America/New_York", "2026-11-01T12:00:00Z", "22:00", "07:00", false},
		{"repeated hour, first time", "Europe/Berlin", "2026-10-25T02:15:00+02:00", "02:00", "02:30", true},
		{"repeated hour, second time", "Europe/Berlin", "2026-10-25T02:15:00+01:00", "02:00", "02:30", true},
		{"daytime window", "Europe/Berlin", "2026-03-29T14:00:00+02:00", "13:00", "15:00", true},
		{"outside daytime window", "Europe/Berlin", "2026-03-29T15:00:00+02:00", "13:00", "15:00", false},
		{"start == end is empty", "Europe/Berlin", "2026-03-29T14:00:00+02:00", "14:00", "14:00", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := InWindow(at(t, tt.t), zone(t, tt.zone), clock(t, tt.start), clock(t, tt.end)); got != tt.want {
				t.Errorf("InWindow(%s, %s–%s) = %v, want %v", tt.t, tt.start, tt.end, got, tt.want)
			}
		})
	}
}

func TestWindowEnd(t *testing.T) {
	tests := []struct {
		name, zone, t, start, end, want string
	}{
		{"quiet night an hour shorter in spring", "America/New_York",
			"2026-03-07T23:00:00-05:00", "22:00", "07:00", "2026-03-08T07:00:00-04:00"},
		{"quiet night an hour longer in autumn", "America/New_York",
			"2026-10-31T23:00:00-04:00", "22:00", "07:00", "2026-11-01T07:00:00-05:00"},
		{"end in the gap: first instant after it", "America/New_York",
			"2026-03-08T01:00:00-05:00", "22:00", "02:30", "2026-03-08T03:00:00-04:00"},
		{"Berlin end in the gap", "Europe/Berlin",
			"2026-03-29T01:30:00+01:00", "23:00", "02:30", "2026-03-29T03:00:00+02:00"},
		{"end happens twice: the first", "Europe/Berlin",
			"2026-10-24T23:30:00+02:00", "23:00", "02:30", "2026-10-25T02:30:00+02:00"},
		{"back in the window in the repeated hour: ends at the second", "America/New_York",
			"2026-11-01T01:10:00-05:00", "00:00", "01:30", "2026-11-01T01:30:00-05:00"},
		{"after midnight", "Europe/Berlin",
			"2026-06-16T01:30:00+02:00", "22:00", "07:00", "2026-06-16T07:00:00+02:00"},
		{"daytime window", "Europe/Berlin",
			"2026-06-16T14:00:00+02:00", "13:00", "15:00", "2026-06-16T15:00:00+02:00"},
		{"outside the window: now", "Europe/Berlin",
			"2026-06-16T12:00:00+02:00", "22:00", "07:00", "2026-06-16T12:00:00+02:00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			loc, start, end := zone(t, tt.zone), clock(t, tt.start), clock(t, tt.end)
			got := WindowEnd(at(t, tt.t), loc, start, end)
			if want := at(t, tt.want); !got.Equal(want) {
				t.Errorf("WindowEnd(%s, %s–%s) = %s, want %s", tt.t, tt.start, tt.end, got, want)
			}
			if InWindow(got, loc, start, end) {
				t.Errorf("WindowEnd(%s) = %s is still inside the window", tt.t, got)
			}
		})
	}
}

func TestLocalDateAndStartOfNextDay(t *testing.T) {
	tests := []struct {
		name, zone, t, date, next string
	}{
		{"just before local midnight", "America/New_York", "2026-11-01T03:59:00Z", "2026-10-31", "2026-11-01T00:00:00-04:00"},
		{"fall-back day is 25 hours", "America/New_York", "2026-11-01T04:30:00Z", "2026-11-01", "2026-11-02T00:00:00-05:00"},
		{"spring-forward day is 23 hours", "America/New_York", "2026-03-08T12:00:00-04:00", "2026-03-08", "2026-03-09T00:00:00-04:00"},
		{"Berlin: UTC still the day before", "Europe/Berlin", "2026-10-24T22:30:00Z", "2026-10-25", "2026-10-26T00:00:00+01:00"},
		{"Berlin spring", "Europe/Berlin", "2026-03-28T23:30:00Z", "2026-03-29", "2026-03-30T00:00:00+02:00"},
		{"no midnight in Santiago", "America/Santiago", "2026-09-05T12:00:00-04:00", "2026-09-05", "2026-09-06T01:00:00-03:00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			loc := zone(t, tt.zone)
			if got := LocalDate(at(t, tt.t), loc); got != tt.date {
				t.Errorf("LocalDate = %s, want %s", got, tt.date)
			}
			if got, want := StartOfNextDay(at(t, tt.t), loc), at(t, tt.next); !got.Equal(want) {
				t.Errorf("StartOfNextDay = %s, want %s", got, want)
			}
		})
	}
}

// A client who moves from Berlin to New York keeps their settings; the same
// instant is a different local day and hour in each zone.
func TestTimeZoneMove(t *testing.T) {
	now := at(t, "2026-06-15T23:30:00Z")
	quietStart, quietEnd, reminder := clock(t, "22:00"), clock(t, "07:00"), clock(t, "08:00")
	tests := []struct {
		zone         string
		date         string
		quiet        bool
		quietEnds    string
		nextReminder string
	}{
		{"Europe/Berlin", "2026-06-16", true, "2026-06-16T07:00:00+02:00", "2026-06-16T08:00:00+02:00"},
		{"America/New_York", "2026-06-15", false, "2026-06-15T23:30:00Z", "2026-06-16T08:00:00-04:00"},
	}
	for _, tt := range tests {
		loc := zone(t, tt.zone)
		if got := LocalDate(now, loc); got != tt.date {
			t.Errorf("%s: LocalDate = %s, want %s", tt.zone, got, tt.date)
		}
		if got := InWindow(now, loc, quietStart, quietEnd); got != tt.quiet {
			t.Errorf("%s: InWindow = %v, want %v", tt.zone, got, tt.quiet)
		}
		if got := WindowEnd(now, loc, quietStart, quietEnd); !got.Equal(at(t, tt.quietEnds)) {
			t.Errorf("%s: WindowEnd = %s, want %s", tt.zone, got, tt.quietEnds)
		}
		if got := NextAt(now, loc, reminder); !got.Equal(at(t, tt.nextReminder)) {
			t.Errorf("%s: NextAt = %s, want %s", tt.zone, got, tt.nextReminder)
		}
	}
}

func TestNilLocationIsUTC(t *testing.T) {
	now := at(t, "2026-06-15T23:30:00Z")
	if got := LocalDate(now, nil); got != "2026-06-15" {
		t.Errorf("LocalDate(nil) = %s", got)
	}
	if got := NextAt(now, nil, Clock{8, 0}); !got.Equal(at(t, "2026-06-16T08:00:00Z")) {
		t.Errorf("NextAt(nil) = %s", got)
	}
}
