package seccomp

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// cached runs Cached to the end, as the parent does.
func cached(t *testing.T, root string, s *specs.LinuxSeccomp) []byte {
	t.Helper()
	bpf, store := Cached(root, s)
	store()
	return bpf
}

func entryPath(t *testing.T, root string, s *specs.LinuxSeccomp) string {
	t.Helper()
	key, err := cacheKey(s)
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(root, CacheDir, hex.EncodeToString(key[:]))
}

// The cached program is bit for bit what libseccomp compiles, and the init
// builds the same Filter from it as from its own compilation. Nothing is
// loaded.
func TestCachedGivesTheSameProgram(t *testing.T) {
	root := t.TempDir()
	s := loadProfile(t)
	fresh, err := compileBPF(s)
	if err != nil {
		t.Fatal(err)
	}
	if bpf := cached(t, root, s); bpf != nil {
		t.Fatalf("first lookup in an empty cache found %d bytes", len(bpf))
	}
	got := cached(t, root, s)
	if !bytes.Equal(got, fresh) {
		t.Fatalf("cached program (%d bytes) differs from a fresh compilation (%d bytes)", len(got), len(fresh))
	}
	fi, err := os.Stat(filepath.Join(root, CacheDir))
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("cache dir: %v, %v; want mode 0700", fi, err)
	}
	precompileMatches(t, s, got)
}

// The key follows the rules and only them.
func TestCacheKey(t *testing.T) {
	base := allowAnd(mkdirRule(specs.ActErrno, uintp(1)))
	key := func(s *specs.LinuxSeccomp) [sha256.Size]byte {
		k, err := cacheKey(s)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	k0 := key(base)
	same := allowAnd(mkdirRule(specs.ActErrno, uintp(1)))
	same.Flags = []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagLog}
	same.ListenerPath = "/run/agent.sock"
	if key(same) != k0 {
		t.Errorf("flags and listener changed the key")
	}
	for name, s := range map[string]*specs.LinuxSeccomp{
		"errno":   allowAnd(mkdirRule(specs.ActErrno, uintp(2))),
		"action":  allowAnd(mkdirRule(specs.ActLog, nil)),
		"archs":   {DefaultAction: specs.ActAllow, Architectures: []specs.Arch{specs.ArchX86}, Syscalls: base.Syscalls},
		"default": {DefaultAction: specs.ActLog, Syscalls: base.Syscalls},
	} {
		if key(s) == k0 {
			t.Errorf("%s: another config has the same key", name)
		}
	}
}

// A damaged entry is never used and is written again.
func TestCacheIgnoresBadEntries(t *testing.T) {
	s := allowAnd(mkdirRule(specs.ActErrno, uintp(1)))
	fresh, err := compileBPF(s)
	if err != nil {
		t.Fatal(err)
	}
	other := allowAnd(mkdirRule(specs.ActErrno, uintp(2)))
	otherKey, _ := cacheKey(other)
	flip := func(b []byte, i int) []byte { b = slices.Clone(b); b[i] ^= 1; return b }
	for name, damage := range map[string]func([]byte) []byte{
		"empty":      func([]byte) []byte { return nil },
		"short":      func(b []byte) []byte { return b[:len(b)/2] },
		"odd length": func(b []byte) []byte { return append(b[:len(b)-sha256.Size-3], b[len(b)-sha256.Size:]...) },
		"program":    func(b []byte) []byte { return flip(b, len(cacheMagic)+sha256.Size+5) },
		"checksum":   func(b []byte) []byte { return flip(b, len(b)-1) },
		"magic":      func(b []byte) []byte { return flip(b, 0) },
		"other key":  func(b []byte) []byte { return encodeEntry(otherKey, fresh) },
	} {
		t.Run(name, func(t *testing.T) {
			root := t.TempDir()
			cached(t, root, s)
			path := entryPath(t, root, s)
			good, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, damage(good), 0o600); err != nil {
				t.Fatal(err)
			}
			if bpf := cached(t, root, s); bpf != nil {
				t.Fatalf("damaged entry used")
			}
			if got := cached(t, root, s); !bytes.Equal(got, fresh) {
				t.Fatalf("entry not rebuilt: got %d bytes, want %d", len(got), len(fresh))
			}
		})
	}
}

// The cache is never reached through a symlink nor used when others can
// write to it.
func TestCacheRefusesUnsafePaths(t *testing.T) {
	s := allowAnd(mkdirRule(specs.ActErrno, uintp(1)))

	root, elsewhere := t.TempDir(), t.TempDir()
	// Safe but for the symlink.
	if err := os.Chmod(elsewhere, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(elsewhere, filepath.Join(root, CacheDir)); err != nil {
		t.Fatal(err)
	}
	cached(t, root, s)
	if bpf := cached(t, root, s); bpf != nil {
		t.Errorf("cache used through a symlinked directory")
	}
	if e, _ := os.ReadDir(elsewhere); len(e) != 0 {
		t.Errorf("wrote through a symlinked cache directory: %v", e)
	}

	root = t.TempDir()
	if err := os.Mkdir(filepath.Join(root, CacheDir), 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(root, CacheDir), 0o777); err != nil {
		t.Fatal(err)
	}
	cached(t, root, s)
	if bpf := cached(t, root, s); bpf != nil {
		t.Errorf("cache used in a directory others can write")
	}

	// A symlinked entry is not followed, neither read nor written through.
	root = t.TempDir()
	cached(t, root, s)
	path := entryPath(t, root, s)
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(elsewhere, "target")
	if err := os.WriteFile(target, good, 0o600); err != nil {
		t.Fatal(err)
	}
	os.Remove(path)
	if err := os.Symlink(target, path); err != nil {
		t.Fatal(err)
	}
	if bpf := cached(t, root, s); bpf != nil {
		t.Errorf("symlinked entry used")
	}
	if fi, err := os.Lstat(path); err != nil || !fi.Mode().IsRegular() {
		t.Errorf("symlinked entry not replaced by a file: %v, %v", fi, err)
	}
	if b, _ := os.ReadFile(target); !bytes.Equal(b, good) {
		t.Errorf("wrote through a symlinked entry")
	}
}

// Beyond its bound the cache keeps the newest entries.
func TestCacheEvictsOldest(t *testing.T) {
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	var names []string
	for i := range 8 {
		n := filepath.Join(dir, string(rune('a'+i)))
		if err := os.WriteFile(n, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		// Oldest first, whatever the names sort as.
		mt := now.Add(time.Duration(i-8) * time.Minute)
		if err := os.Chtimes(n, mt, mt); err != nil {
			t.Fatal(err)
		}
		names = append(names, filepath.Base(n))
	}
	dfd, err := openCacheDir(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	evict(dfd, 3)
	os.NewFile(uintptr(dfd), dir).Close()
	var left []string
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		left = append(left, e.Name())
	}
	if !slices.Equal(left, names[5:]) {
		t.Fatalf("after eviction: %v, want the newest %v", left, names[5:])
	}
}

func TestCachedDisabled(t *testing.T) {
	root := t.TempDir()
	for _, s := range []*specs.LinuxSeccomp{nil, {}, {DefaultAction: "SCMP_ACT_NOPE"}} {
		if bpf := cached(t, root, s); bpf != nil {
			t.Errorf("Cached(%+v) gave a program", s)
		}
	}
	if _, err := os.Stat(filepath.Join(root, CacheDir)); !os.IsNotExist(err) {
		t.Errorf("cache dir made for no filter: %v", err)
	}
}

// What a hit costs the parent of `create` and `exec`.
func BenchmarkCachedHit(b *testing.B) {
	root := b.TempDir()
	s := loadProfile(b)
	_, store := Cached(root, s)
	store()
	for b.Loop() {
		if bpf, _ := Cached(root, s); bpf == nil {
			b.Fatal("miss")
		}
	}
}
