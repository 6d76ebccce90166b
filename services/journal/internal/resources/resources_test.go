package resources

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func phones(rs []Resource) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Phone)
	}
	return out
}

func TestForLocalLinesFirstThenInternational(t *testing.T) {
	tests := []struct {
		country    string
		wantPhones []string // the local phones, in order
		wantText   string   // a text line the client must see, if any
	}{
		{"US", []string{"988"}, "HOME to 741741"},
		{"us", []string{"988"}, ""}, // any case
		{" CA ", []string{"988"}, "988"},
		{"GB", []string{"116 123"}, "SHOUT to 85258"},
		{"UK", []string{"116 123"}, "SHOUT to 85258"}, // the common alias
		{"IE", []string{"116 123"}, ""},
		{"AU", []string{"13 11 14"}, ""},
		{"NZ", []string{"1737"}, "1737"},
		{"DE", []string{"0800 111 0 111", "0800 111 0 222"}, ""},
		{"FR", []string{"3114"}, ""},
		{"IN", []string{"14416"}, ""},
	}
	for _, tt := range tests {
		got := For(tt.country)
		if len(got) < 2 {
			t.Errorf("For(%q) = %d resources, want local lines and the international one", tt.country, len(got))
			continue
		}
		if last := got[len(got)-1]; last.CountryCode != International {
			t.Errorf("For(%q): last entry is %q, want the international fallback", tt.country, last.CountryCode)
		}
		for _, p := range tt.wantPhones {
			if !slices.Contains(phones(got), p) {
				t.Errorf("For(%q) has no line on %q", tt.country, p)
			}
		}
		if got[0].Phone != tt.wantPhones[0] {
			t.Errorf("For(%q) starts with %q, want %q first", tt.country, got[0].Phone, tt.wantPhones[0])
		}
		if tt.wantText != "" && !slices.ContainsFunc(got, func(r Resource) bool { return r.Text == tt.wantText }) {
			t.Errorf("For(%q) has no text line %q", tt.country, tt.wantText)
		}
		for _, r := range got[:len(got)-1] {
			if r.CountryCode != strings.ToUpper(strings.TrimSpace(tt.country)) && tt.country != "UK" {
				t.Errorf("For(%q) includes %q from %q", tt.country, r.Name, r.CountryCode)
			}
		}
	}
}

func TestUSHas988(t *testing.T) {
	got := For("US")
	if got[0].Name != "988 Suicide & Crisis Lifeline" || got[0].Phone != "988" || got[0].Text != "988" {
		t.Errorf("For(US)[0] = %+v, want the 988 Lifeline to call or text", got[0])
	}
}

func TestUnknownOrEmptyCountryGetsInternationalOnly(t *testing.T) {
	for _, cc := range []string{"", "ZZ", "XX", "not a country"} {
		got := For(cc)
		if len(got) != 1 || got[0].CountryCode != International {
			t.Errorf("For(%q) = %+v, want the international entry only", cc, got)
			continue
		}
		if !strings.Contains(got[0].Description, "local emergency number") {
			t.Errorf("For(%q): the international entry does not point to the local emergency number", cc)
		}
		if got[0].URL != "https://findahelpline.com" {
			t.Errorf("For(%q): URL %q, want findahelpline.com", cc, got[0].URL)
		}
	}
}

func TestEveryEntryIsReachableAndDated(t *testing.T) {
	seen := 0
	for _, cc := range append(Countries(), "") {
		for _, r := range For(cc) {
			seen++
			if r.Name == "" || r.Description == "" || r.Hours == "" {
				t.Errorf("%s %q lacks a name, description or hours", r.CountryCode, r.Name)
			}
			if r.Phone == "" && r.Text == "" && r.URL == "" {
				t.Errorf("%s %q has no way to reach it", r.CountryCode, r.Name)
			}
			if r.URL != "" && !strings.HasPrefix(r.URL, "https://") {
				t.Errorf("%s %q: URL %q is not https", r.CountryCode, r.Name, r.URL)
			}
			if _, err := time.Parse("2006-01-02", r.LastVerified); err != nil {
				t.Errorf("%s %q: LastVerified %q does not parse: %v", r.CountryCode, r.Name, r.LastVerified, err)
			}
			if len(r.CountryCode) != 2 && r.CountryCode != International {
				t.Errorf("%q: country code %q", r.Name, r.CountryCode)
			}
		}
	}
	if seen < 12 {
		t.Errorf("only %d entries checked", seen)
	}
}

func TestForReturnsAFreshSlice(t *testing.T) {
	a := For("US")
	a[0].Phone = "000"
	if For("US")[0].Phone != "988" {
		t.Error("changing For's result changed the list")
	}
}

// An imminent answer leads with the emergency number, then every line For
// gives; each listed country has its own number, others get 112 and a word
// about the local number.
func TestImminentLeadsWithTheEmergencyNumber(t *testing.T) {
	want := map[string]string{"US": "911", "CA": "911", "GB": "999", "UK": "999", "IE": "112", "AU": "000", "NZ": "111", "DE": "112", "fr": "112", "IN": "112", "": "112", "BR": "112"}
	for cc, phone := range want {
		got := Imminent(cc)
		if len(got) < 2 || got[0].Phone != phone || got[0].Name != "Emergency services" {
			t.Errorf("Imminent(%q)[0] = %+v, want emergency services on %s", cc, got[0], phone)
			continue
		}
		if !slices.Equal(phones(got[1:]), phones(For(cc))) {
			t.Errorf("Imminent(%q) after the emergency number = %v, want For's %v", cc, phones(got[1:]), phones(For(cc)))
		}
		if got[0].LastVerified != LastVerified || got[0].Hours == "" {
			t.Errorf("Imminent(%q)[0] = %+v: no hours or verification date", cc, got[0])
		}
	}
	if !strings.Contains(Emergency("BR").Description, "own emergency number") {
		t.Error("an unlisted country's emergency entry does not point to the local number")
	}
	if _, ok := emergencyNumbers["INT"]; ok {
		t.Error("INT has no emergency number of its own")
	}
	for _, cc := range Countries() {
		if _, ok := emergencyNumbers[cc]; !ok {
			t.Errorf("%s has crisis lines but no emergency number", cc)
		}
	}
}
