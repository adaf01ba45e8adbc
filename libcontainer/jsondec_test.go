package libcontainer

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"husk/internal/fuzzcheck"
)

// decodedDocs are what husk decodes with jsondec besides config.json: the
// init config and state.json, as husk writes them.
func decodedDocs(t testing.TB) [][]byte {
	spec := DefaultSpec()
	raw, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	st := specs.State{Version: specs.Version, ID: "c1", Status: specs.StateCreating, Pid: 42, Bundle: "/b", Annotations: map[string]string{"a": "b"}}
	paths := map[string]string{"memory": "/sys/fs/cgroup/memory/husk/c1", "": "/husk/c1"}
	docs := []any{
		initConfig{ID: "c1", Rootfs: "/b/rootfs", State: st, Config: raw, NoPivot: true, StartFd: 5, CgroupPaths: paths, NewCgroupNS: true},
		initConfig{ID: "c1", State: st, Process: spec.Process, Seccomp: &specs.LinuxSeccomp{DefaultAction: specs.ActAllow},
			SeccompBPF: []byte{0x20, 0, 0, 0, 4, 0, 0, 0, 0xff}, PreserveFds: 2, ListenFds: 1},
		record{State: State{State: st, Rootfs: "/b/rootfs", Created: time.Date(2026, 12, 3, 10, 0, 0, 123, time.UTC), Owner: "root"},
			InitStartTime: 123456, Config: raw, CgroupPaths: paths},
		paths,
	}
	var out [][]byte
	for _, d := range docs {
		var data []byte
		var err error
		if cfg, ok := d.(initConfig); ok {
			data, err = cfg.encode()
		} else {
			data, err = json.Marshal(d)
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, data)
	}
	return out
}

// TestDecodedDocs: husk's own documents take jsondec's fast path, with
// encoding/json's result.
func TestDecodedDocs(t *testing.T) {
	fuzzcheck.FastPathTypes(t, reflect.TypeFor[initConfig](), reflect.TypeFor[record]())
	for i, data := range decodedDocs(t) {
		fast := false
		switch i {
		case 0, 1:
			fast = fuzzcheck.DecodeLikeJSON[initConfig](t, data)
		case 2:
			fast = fuzzcheck.DecodeLikeJSON[record](t, data)
		case 3:
			fast = fuzzcheck.DecodeLikeJSON[map[string]string](t, data)
		}
		if !fast {
			t.Errorf("the fast path gave up on %s", data)
		}
	}
}

// FuzzDecodeDocs checks jsondec against encoding/json on the init config
// and state.json (json.RawMessage, base64, time.Time, embedded structs).
func FuzzDecodeDocs(f *testing.F) {
	for _, data := range decodedDocs(f) {
		f.Add(data)
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
	got.ProcessJSON, got.SeccompJSON = nil, nil
	if !reflect.DeepEqual(*got, want) {
		t.Errorf("decoded %+v, want %+v", *got, want)
	}
	for _, cfg := range []initConfig{{ID: "c2"}, want} {
		data, _ := cfg.encode()
		got, err := decodeInitConfig(data)
		if err != nil || (got.Process == nil) != (cfg.Process == nil) || (got.Seccomp == nil) != (cfg.Seccomp == nil) {
			t.Errorf("%s: process %v seccomp %v, err %v", data, got.Process, got.Seccomp, err)
		}
	}
}
