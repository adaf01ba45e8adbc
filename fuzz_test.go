package main

import (
	"flag"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	"husk/cgroups"
	"husk/internal/fuzzcheck"
)

// FuzzParseBytes: an accepted size is exactly its digits times its unit
// (no overflow), is -1 or more, and formats back to itself.
func FuzzParseBytes(f *testing.F) {
	for _, s := range []string{"-1", "0", "512", "64k", "100m", "1g", "1GB", "2kb", "b", "", "-2", "1t", "9223372036854775807",
		"8589934592g", "9007199254740992k", "+5m", " 1", "1.5g", "0x10"} {
		f.Add(s)
	}
	units := map[string]int64{"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := parseBytes(s)
		fuzzcheck.OneLine(t, "parseBytes", err)
		if err != nil {
			return
		}
		if n < -1 {
			t.Fatalf("%q gives %d", s, n)
		}
		if n == -1 {
			if s != "-1" {
				t.Fatalf("%q gives -1 (no limit)", s)
			}
			return
		}
		num := strings.TrimSuffix(strings.ToLower(s), "b")
		unit := units[""]
		for u, m := range units {
			if u != "" && strings.HasSuffix(num, u) {
				num, unit = strings.TrimSuffix(num, u), m
			}
		}
		want, ok := new(big.Int).SetString(num, 10)
		if !ok {
			t.Fatalf("%q accepted as %d, but %q is not a number", s, n, num)
		}
		if want.Mul(want, big.NewInt(unit)); want.Cmp(big.NewInt(n)) != 0 {
			t.Fatalf("%q gives %d, want %s", s, n, want)
		}
		if back, err := parseBytes(strconv.FormatInt(n, 10)); err != nil || back != n {
			t.Fatalf("%q gives %d, which parses back as %d, %v", s, n, back, err)
		}
	})
}

// FuzzParseSignal: an accepted signal is 1 to 64, and its number and its
// name parse back to it.
func FuzzParseSignal(f *testing.F) {
	for _, s := range []string{"TERM", "SIGKILL", "sigkill", "kill", "9", "0", "65", "-1", "+9", "SIG", "", "RTMIN", "SIGRTMAX", "SIGRTMIN+3", "ſigkill"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sig, err := parseSignal(s)
		fuzzcheck.OneLine(t, "parseSignal", err)
		if err != nil {
			return
		}
		if sig < 1 || sig > 64 {
			t.Fatalf("%q gives signal %d", s, sig)
		}
		if back, err := parseSignal(strconv.Itoa(int(sig))); err != nil || back != sig {
			t.Fatalf("%q gives %d, whose number parses as %d, %v", s, sig, back, err)
		}
		if _, err := strconv.Atoi(s); err == nil {
			return
		}
		if !strings.EqualFold(strings.TrimPrefix(strings.ToUpper(s), "SIG"), strings.TrimPrefix(unix.SignalName(sig), "SIG")) {
			t.Fatalf("%q gives %d, named %s", s, sig, unix.SignalName(sig))
		}
	})
}

// updateContext parses update's flags as the CLI would.
func updateContext(t *testing.T, args []string) (*cli.Context, error) {
	set := flag.NewFlagSet("update", flag.ContinueOnError)
	set.SetOutput(io.Discard)
	for _, fl := range updateCommand.Flags {
		if err := fl.Apply(set); err != nil {
			t.Fatal(err)
		}
	}
	if err := set.Parse(args); err != nil {
		return nil, err
	}
	return cli.NewContext(newApp(), set, nil), nil
}

// FuzzUpdate runs update's input path but for the container: --resources
// JSON merged into a container's resources, then the flags, then
// cgroups.Validate, the check before anything is written. Every error is
// one line; a value the flags accepted is the one the user gave.
func FuzzUpdate(f *testing.F) {
	f.Add(`{"memory": {"limit": 1048576}}`, "--memory=1g")
	f.Add(`{"cpu": {"shares": 1024}, "pids": {"limit": 5}}`, "--memory-swap=2g|--memory=1g|--cpu-quota=50000")
	f.Add(`{"unified": {"memory.max": "max"}}`, "--pids-limit=-1|--blkio-weight=500")
	f.Add(`{"unified": {"memory.max\n": "1"}}`, "--memory=9999999999999g")
	f.Add(`{"memory": {"limit": 1`, "--cpu-share=x")
	f.Add(`null`, "--blkio-weight=70000|--cpuset-cpus=0-1000")
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, resources, flags string) {
		file := filepath.Join(dir, "resources.json")
		if err := os.WriteFile(file, []byte(resources), 0o600); err != nil {
			t.Fatal(err)
		}
		limit := int64(4096)
		r := &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &limit}}
		err := readResources(file, r)
		fuzzcheck.OneLine(t, "readResources", err)
		if err != nil {
			return
		}
		ctx, err := updateContext(t, strings.Split(flags, "|"))
		if err != nil {
			return
		}
		err = applyUpdateFlags(ctx, r)
		fuzzcheck.OneLine(t, "applyUpdateFlags", err)
		if err != nil {
			return
		}
		if v := ctx.String("memory"); v != "" {
			if want, _ := parseBytes(v); r.Memory.Limit == nil || *r.Memory.Limit != want {
				t.Fatalf("--memory=%q: limit %v, want %d", v, r.Memory.Limit, want)
			}
		}
		if v := ctx.String("blkio-weight"); v != "" {
			if n, _ := strconv.Atoi(v); r.BlockIO == nil || int(*r.BlockIO.Weight) != n {
				t.Fatalf("--blkio-weight=%q: weight %v", v, r.BlockIO)
			}
		}
		fuzzcheck.OneLine(t, "cgroups.Validate", cgroups.Validate(r))
	})
}
