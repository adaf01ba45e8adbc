package libcontainer

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"husk/internal/fuzzcheck"
)

// decodedDoc is a document husk decodes with jsondec, and the check of
// it against encoding/json in its Go type.
type decodedDoc struct {
	data []byte
	like func(*testing.T, []byte) bool
}

// decodedDocs are what husk decodes with jsondec besides config.json: the
// init config and state.json, as husk writes them.
func decodedDocs(t testing.TB) []decodedDoc {
	spec := DefaultSpec()
	raw, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	st := specs.State{Version: specs.Version, ID: "c1", Status: specs.StateCreating, Pid: 42, Bundle: "/b", Annotations: map[string]string{"a": "b"}}
	paths := map[string]string{"memory": "/sys/fs/cgroup/memory/husk/c1", "": "/husk/c1"}
	must := func(data []byte, err error) []byte {
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	initCfg := fuzzcheck.DecodeLikeJSON[initConfig]
	return []decodedDoc{
		{must(initConfig{ID: "c1", Rootfs: "/b/rootfs", State: st, Config: raw, NoPivot: true, StartFd: 5, CgroupPaths: paths, NewCgroupNS: true}.encode()), initCfg},
		{must(initConfig{ID: "c1", State: st, Process: spec.Process, Seccomp: &specs.LinuxSeccomp{DefaultAction: specs.ActAllow},
			SeccompBPF: []byte{0x20, 0, 0, 0, 4, 0, 0, 0, 0xff}, PreserveFds: 2, ListenFds: 1}.encode()), initCfg},
		{must(json.Marshal(record{State: State{State: st, Rootfs: "/b/rootfs", Created: time.Date(2026, 12, 3, 10, 0, 0, 123, time.UTC), Owner: "root"},
			InitStartTime: 123456, Config: raw, CgroupPaths: paths})), fuzzcheck.DecodeLikeJSON[record]},
		{must(json.Marshal(paths)), fuzzcheck.DecodeLikeJSON[map[string]string]},
	}
}

// TestDecodedDocs: husk's own documents take jsondec's fast path, with
// encoding/json's result.
func TestDecodedDocs(t *testing.T) {
	fuzzcheck.FastPathTypes(t, reflect.TypeFor[initConfig](), reflect.TypeFor[record]())
	for _, doc := range decodedDocs(t) {
		if !doc.like(t, doc.data) {
			t.Errorf("the fast path gave up on %s", doc.data)
		}
	}
}

// FuzzDecodeDocs checks jsondec against encoding/json on the init config
// and state.json (json.RawMessage, base64, time.Time, embedded structs).
func FuzzDecodeDocs(f *testing.F) {
	for _, doc := range decodedDocs(f) {
		f.Add(doc.data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzcheck.DecodeLikeJSON[initConfig](t, data)
		fuzzcheck.DecodeLikeJSON[record](t, data)
	})
}

// The init gets the config the parent sends, exec's process and seccomp
// filter included.
func TestInitConfigRoundTrip(t *testing.T) {
	spec := DefaultSpec()
	want := initConfig{ID: "c1", Process: spec.Process, Seccomp: &specs.LinuxSeccomp{DefaultAction: specs.ActErrno,
		Syscalls: []specs.LinuxSyscall{{Names: []string{"mount"}, Action: specs.ActAllow}}}, PreserveFds: 2}
	data, err := want.encode()
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeInitConfig(data)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(*got, want) {
		t.Errorf("decoded %+v, want %+v", *got, want)
	}
	// Without an exec's process and filter, none comes back.
	data, err = initConfig{ID: "c2"}.encode()
	if err != nil {
		t.Fatal(err)
	}
	if got, err = decodeInitConfig(data); err != nil {
		t.Fatal(err)
	}
	if got.Process != nil || got.Seccomp != nil {
		t.Errorf("%s: process %v seccomp %v", data, got.Process, got.Seccomp)
	}
}
