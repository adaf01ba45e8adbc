package seccomp

import (
	"bytes"
	"cmp"
	"crypto/rand"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

// A docker or podman host gives every container the same profile, and
// libseccomp takes milliseconds to compile a large one. The parent keeps
// each program it compiled in a directory of the state root and hands it
// to the init, which then loads it as is.
//
// Only the parent reads and writes the cache: the init runs in the
// container's mount namespace, and the process that `exec` starts is
// reachable from the container (ptrace) before it execs, so neither is
// trusted to put a program there that other containers would load.
//
// An entry is the file <sha256 key in hex>:
//
//	cacheMagic, the key, the program, sha256 of all before it.
//
// The key covers everything the program depends on: the rules
// (cacheInput), the architecture, husk's Go build ID (the code that turns
// rules into libseccomp calls), libseccomp's version and API level, and
// the kernel release. An entry that is short, corrupt or from another key
// is ignored and written again.

// CacheDir is the cache's directory in the state root. Its name is not a
// valid container ID, so no container can take it.
const CacheDir = "@seccomp-cache"

const (
	cacheMagic = "husk seccomp bpf\x00v1\x00"
	// cacheEntries bounds the cache: beyond it the oldest entries go.
	cacheEntries = 32
	// maxEntrySize is the largest valid entry: the longest program the
	// kernel takes and the framing.
	maxEntrySize = len(cacheMagic) + sha256.Size + 8*bpfMaxInsns + sha256.Size
)

// cacheInput is the part of the config the program is compiled from: the
// flags and the listener only matter when loading.
type cacheInput struct {
	DefaultAction   specs.LinuxSeccompAction `json:"defaultAction"`
	DefaultErrnoRet *uint                    `json:"defaultErrnoRet"`
	Architectures   []specs.Arch             `json:"architectures"`
	Syscalls        []specs.LinuxSyscall     `json:"syscalls"`
}

// Cached returns the program of s that an earlier call under the state
// root stateRoot compiled, for Precompile's bpf, or nil. On a miss it
// compiles s in the background and stores the program; store waits for
// that, and the caller calls it before it exits (it does nothing after a
// hit). Without a cache (a read-only state root, no build ID) it returns
// nil and a no-op: the init compiles as before.
func Cached(stateRoot string, s *specs.LinuxSeccomp) (bpf []byte, store func()) {
	none := func() {}
	if disabled(s) || Validate(s) != nil {
		return nil, none
	}
	key, err := cacheKey(s)
	if err != nil {
		return nil, none
	}
	dir := filepath.Join(stateRoot, CacheDir)
	if bpf := readEntry(dir, key); bpf != nil {
		return bpf, none
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if bpf, err := compileBPF(s); err == nil {
			_ = writeEntry(dir, key, bpf)
		}
	}()
	return nil, func() { <-done }
}

// cacheKey is the sha256 of what the program depends on.
func cacheKey(s *specs.LinuxSeccomp) ([sha256.Size]byte, error) {
	var key [sha256.Size]byte
	id, err := buildID()
	if err != nil {
		return key, err
	}
	rules, err := json.Marshal(cacheInput{s.DefaultAction, s.DefaultErrnoRet, s.Architectures, s.Syscalls})
	if err != nil {
		return key, fmt.Errorf("seccomp cache key: encoding the rules: %w", err)
	}
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return key, fmt.Errorf("seccomp cache key: uname: %w", err)
	}
	major, minor, micro := libseccomp.GetLibraryVersion()
	api, _ := libseccomp.GetAPI()
	h := sha256.New()
	fmt.Fprintf(h, "%s%s\x00%q\x00%d.%d.%d\x00%d\x00%s\x00",
		cacheMagic, runtime.GOARCH, id, major, minor, micro, api, unix.ByteSliceToString(u.Release[:]))
	h.Write(rules)
	h.Sum(key[:0])
	return key, nil
}

// buildID reads the Go build ID note of the running binary.
func buildID() ([]byte, error) {
	const exe, name = "/proc/self/exe", ".note.go.buildid"
	f, err := os.Open(exe)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	ef, err := elf.NewFile(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", exe, err)
	}
	sec := ef.Section(name)
	if sec == nil {
		return nil, fmt.Errorf("%s: no %s section", exe, name)
	}
	note, err := sec.Data()
	if err != nil {
		return nil, fmt.Errorf("%s: section %s: %w", exe, name, err)
	}
	// namesz, descsz, type, "Go\0\0", the ID.
	var n uint64 // descsz, 0 if the note is not Go's
	if len(note) >= 16 && bytes.Equal(note[12:16], []byte("Go\x00\x00")) {
		n = uint64(ef.ByteOrder.Uint32(note[4:]))
	}
	if n == 0 || n > uint64(len(note)-16) {
		return nil, fmt.Errorf("%s: section %s (%d bytes) is not a Go build ID note", exe, name, len(note))
	}
	return note[16 : 16+n], nil
}

// openCacheDir opens dir, making it when create is set. It must be a
// directory (not a symlink to one) that only its owner, husk's user, can
// reach.
func openCacheDir(dir string, create bool) (int, error) {
	const flags = unix.O_RDONLY | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC
	fd, err := unix.Open(dir, flags, 0)
	if errors.Is(err, unix.ENOENT) && create {
		if err = unix.Mkdir(dir, 0o700); err == nil || errors.Is(err, unix.EEXIST) {
			fd, err = unix.Open(dir, flags, 0)
		}
	}
	if err != nil {
		return -1, fmt.Errorf("seccomp cache directory %s: %w", dir, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("seccomp cache directory %s: fstat: %w", dir, err)
	}
	if int(st.Uid) != os.Geteuid() || st.Mode&0o077 != 0 {
		unix.Close(fd)
		return -1, fmt.Errorf("%s: owned by uid %d with mode %#o, want %d and no access for others", dir, st.Uid, st.Mode&0o777, os.Geteuid())
	}
	return fd, nil
}

// readEntry returns the program stored under key, or nil.
func readEntry(dir string, key [sha256.Size]byte) []byte {
	dfd, err := openCacheDir(dir, false)
	if err != nil {
		return nil
	}
	defer unix.Close(dfd)
	fd, err := unix.Openat(dfd, hex.EncodeToString(key[:]), unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil
	}
	f := os.NewFile(uintptr(fd), "seccomp cache entry")
	defer f.Close()
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFREG || st.Size > int64(maxEntrySize) {
		return nil
	}
	b := make([]byte, st.Size)
	if _, err := io.ReadFull(f, b); err != nil {
		return nil
	}
	return decodeEntry(b, key)
}

func encodeEntry(key [sha256.Size]byte, bpf []byte) []byte {
	b := slices.Concat([]byte(cacheMagic), key[:], bpf)
	sum := sha256.Sum256(b)
	return append(b, sum[:]...)
}

// decodeEntry returns the program of entry b if it is whole and is key's.
func decodeEntry(b []byte, key [sha256.Size]byte) []byte {
	head := len(cacheMagic) + sha256.Size
	if len(b) < head+8+sha256.Size || len(b) > maxEntrySize {
		return nil
	}
	body, sum := b[:len(b)-sha256.Size], b[len(b)-sha256.Size:]
	if sha256.Sum256(body) != [sha256.Size]byte(sum) ||
		string(body[:len(cacheMagic)]) != cacheMagic || [sha256.Size]byte(body[len(cacheMagic):head]) != key {
		return nil
	}
	bpf := body[head:]
	if len(bpf)%8 != 0 {
		return nil
	}
	return bpf
}

// writeEntry stores bpf under key: written to a new file, then renamed
// over the entry, so that a reader sees the old entry or the new one.
func writeEntry(dir string, key [sha256.Size]byte, bpf []byte) error {
	dfd, err := openCacheDir(dir, true)
	if err != nil {
		return err
	}
	defer unix.Close(dfd)
	tmp := ".tmp-" + rand.Text()
	fd, err := unix.Openat(dfd, tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return fmt.Errorf("seccomp cache entry %s: %w", filepath.Join(dir, tmp), err)
	}
	f := os.NewFile(uintptr(fd), filepath.Join(dir, tmp))
	_, err = f.Write(encodeEntry(key, bpf))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		if err = unix.Renameat(dfd, tmp, dfd, hex.EncodeToString(key[:])); err != nil {
			err = fmt.Errorf("seccomp cache entry %s: rename to %s: %w", filepath.Join(dir, tmp), hex.EncodeToString(key[:]), err)
		}
	}
	if err != nil {
		unix.Unlinkat(dfd, tmp, 0)
		return err
	}
	evict(dfd, cacheEntries)
	return nil
}

// evict removes the oldest files of the directory beyond keep: the cache
// holds a few profiles, not one per container.
func evict(dfd int, keep int) {
	d, err := unix.Dup(dfd)
	if err != nil {
		return
	}
	f := os.NewFile(uintptr(d), "seccomp cache")
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil || len(names) <= keep {
		return
	}
	type entry struct {
		name  string
		mtime int64
	}
	entries := make([]entry, 0, len(names))
	for _, n := range names {
		var st unix.Stat_t
		if unix.Fstatat(dfd, n, &st, unix.AT_SYMLINK_NOFOLLOW) == nil {
			entries = append(entries, entry{n, st.Mtim.Nano()})
		}
	}
	slices.SortFunc(entries, func(a, b entry) int { return cmp.Compare(b.mtime, a.mtime) })
	for _, e := range entries[min(keep, len(entries)):] {
		unix.Unlinkat(dfd, e.name, 0)
	}
}
