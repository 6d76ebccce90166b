package clock

import (
	"testing"
	"time"
)

// A zone is read from the zone database once: later loads answer the same
// location without reading or allocating.
func TestLoadLocationIsCached(t *testing.T) {
	first, err := LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	again, err := LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	if first != again {
		t.Errorf("the second load of Europe/Berlin parsed the zone database again")
	}
	if a := testing.AllocsPerRun(100, func() { _, _ = LoadLocation("Europe/Berlin") }); a != 0 {
		t.Errorf("a cached zone load allocates %v times, want 0", a)
	}
	// The zone is the real one: Berlin is UTC+1 in January.
	if _, off := time.Date(2026, 1, 15, 12, 0, 0, 0, first).Zone(); off != 3600 {
		t.Errorf("Europe/Berlin offset in January = %d, want 3600", off)
	}
}

func TestLoadLocationRefusesUnknownNames(t *testing.T) {
	for range 2 { // an unknown name is not cached as if it loaded
		if _, err := LoadLocation("Mars/Olympus_Mons"); err == nil {
			t.Fatal("an unknown zone loaded")
		}
	}
}

func BenchmarkLoadLocation(b *testing.B) {
	b.Run("cached", func(b *testing.B) {
		for range b.N {
			if _, err := LoadLocation("Europe/Berlin"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("time.LoadLocation", func(b *testing.B) {
		for range b.N {
			if _, err := time.LoadLocation("Europe/Berlin"); err != nil {
				b.Fatal(err)
			}
		}
	})
}
