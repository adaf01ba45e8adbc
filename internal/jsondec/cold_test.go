package jsondec_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"husk/libcontainer"
)

// TestColdStartCost reports (it asserts nothing about time) what the
// first and the second decode of a config.json cost in a fresh process,
// with encoding/json and with libcontainer.ParseSpec's fast path: the
// first one is what every husk process pays. Each figure is the median of
// a few runs of this test binary (TestColdStartChild).
func TestColdStartCost(t *testing.T) {
	// A report, not a check: run on demand (docs/performance.md).
	if os.Getenv("HUSK_COLD_COST") == "" {
		t.Skip("set HUSK_COLD_COST=1 to measure; it runs the test binary 30 times")
	}
	dir := t.TempDir()
	docs := fixtures(t)
	for _, name := range []string{"husk spec", "full.json", "with seccomp profile"} {
		path := filepath.Join(dir, strings.ReplaceAll(name, " ", "-"))
		if err := os.WriteFile(path, docs[name], 0o600); err != nil {
			t.Fatal(err)
		}
		for _, mode := range []string{"encoding/json", "jsondec"} {
			var cold, warm []time.Duration
			for range 5 {
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestColdStartChild$")
				cmd.Env = append(os.Environ(), "HUSK_COLD_DECODE="+mode+":"+path)
				cmd.WaitDelay = 10 * time.Second
				out, err := cmd.Output()
				cancel()
				if err != nil {
					t.Fatalf("%s: %v", out, err)
				}
				var c, w time.Duration
				if _, err := fmt.Sscanf(string(out), "cold %d warm %d", &c, &w); err != nil {
					t.Fatalf("child said %q: %v", out, err)
				}
				cold, warm = append(cold, c), append(warm, w)
			}
			slices.Sort(cold)
			slices.Sort(warm)
			t.Logf("%-22s %-13s cold %4d µs  warm %4d µs", name, mode, cold[2].Microseconds(), warm[2].Microseconds())
		}
	}
}

// TestColdStartChild decodes a file twice, timing each, when run by
// TestColdStartCost.
func TestColdStartChild(t *testing.T) {
	mode, path, ok := strings.Cut(os.Getenv("HUSK_COLD_DECODE"), ":")
	if !ok {
		t.Skip("run by TestColdStartCost")
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	decode := func() error {
		if mode == "jsondec" {
			_, err := libcontainer.ParseSpec(path, raw)
			return err
		}
		var spec specs.Spec
		return json.Unmarshal(raw, &spec)
	}
	var took [2]time.Duration
	for i := range took {
		start := time.Now()
		if err := decode(); err != nil {
			t.Fatal(err)
		}
		took[i] = time.Since(start)
	}
	fmt.Printf("cold %d warm %d\n", took[0], took[1])
	os.Exit(0) // no PASS line: the parent parses the output
}
