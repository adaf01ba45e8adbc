package jsondec_test

import (
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"husk/internal/fuzzcheck"
)

// FuzzDecode checks the fast path against encoding/json on config.json
// and on the other kinds of Go types it knows: same result when it
// decodes, ErrFallback otherwise, and Decode always encoding/json's
// result and error.
func FuzzDecode(f *testing.F) {
	for _, data := range fixtures(f) {
		f.Add(data)
	}
	for _, c := range fastCases {
		f.Add([]byte(c.in))
	}
	for _, c := range fallbackCases {
		f.Add([]byte(c.in))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzcheck.DecodeLikeJSON[specs.Spec](t, data)
		fuzzcheck.DecodeLikeJSON[kinds](t, data)
	})
}
