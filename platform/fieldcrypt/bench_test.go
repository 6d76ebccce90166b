package fieldcrypt_test

import (
	"context"
	"strings"
	"testing"

	"github.com/nocontact/backend/platform/clock"
	"github.com/nocontact/backend/platform/fieldcrypt"
	"github.com/nocontact/backend/platform/testenv"
)

// A journal entry's body of about 1 KiB.
var benchText = strings.Repeat("I wanted to write to them today. ", 32)

// Warm: the client's keys are in the cache, so a seal or an open is the
// AEAD alone. Cold: the cache is emptied before each operation, so each
// one also reads the keyset from the store and unwraps it (the cost of the
// first field read for a client after a cache expiry).
func BenchmarkSeal(b *testing.B) {
	for _, mode := range []string{"warm", "cold"} {
		b.Run(mode, func(b *testing.B) {
			db := testenv.Mongo(b)
			k, err := fieldcrypt.New(db, fieldcrypt.KEKSet{Current: newKEK(b)}, fieldcrypt.Options{Clock: clock.Real()})
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			r := ref("client-1", "entry-1", "body")
			if _, err := k.Seal(ctx, r, benchText); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(benchText)))
			b.ResetTimer()
			for b.Loop() {
				if mode == "cold" {
					k.Forget(r.Client)
				}
				if _, err := k.Seal(ctx, r, benchText); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkOpen(b *testing.B) {
	for _, mode := range []string{"warm", "cold"} {
		b.Run(mode, func(b *testing.B) {
			db := testenv.Mongo(b)
			k, err := fieldcrypt.New(db, fieldcrypt.KEKSet{Current: newKEK(b)}, fieldcrypt.Options{Clock: clock.Real()})
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			r := ref("client-1", "entry-1", "body")
			ct, err := k.Seal(ctx, r, benchText)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(benchText)))
			b.ResetTimer()
			for b.Loop() {
				if mode == "cold" {
					k.Forget(r.Client)
				}
				if _, err := k.Open(ctx, r, ct); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
