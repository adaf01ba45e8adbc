package jsondec_test

import (
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"husk/internal/fuzzcheck"
	"husk/internal/jsondec"
	"husk/libcontainer"
)

// fixtures are whole config.json files the fast path must take.
func fixtures(t testing.TB) map[string][]byte {
	t.Helper()
	read := func(path string) []byte {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	indent := func(v any) []byte {
		data, err := json.MarshalIndent(v, "", "\t")
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	// `husk spec`, plain and --rootless.
	spec := libcontainer.DefaultSpec()
	rootless := libcontainer.DefaultSpec()
	libcontainer.MakeRootless(rootless, 1000, 1000)
	// The default one with the docker-like seccomp profile: a big one.
	withSeccomp := libcontainer.DefaultSpec()
	if err := json.Unmarshal(read("../../seccomp/testdata/default.json"), &withSeccomp.Linux.Seccomp); err != nil {
		t.Fatal(err)
	}
	return map[string][]byte{
		"husk spec":            indent(spec),
		"husk spec --rootless": indent(rootless),
		"with seccomp profile": indent(withSeccomp),
		"compact":              must(json.Marshal(withSeccomp)),
		"full.json":            read("testdata/full.json"),
	}
}

func must(data []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return data
}

func TestFixtures(t *testing.T) {
	for name, data := range fixtures(t) {
		t.Run(name, func(t *testing.T) {
			if !fuzzcheck.DecodeLikeJSON[specs.Spec](t, data) {
				t.Fatal("the fast path gave up on it")
			}
		})
	}
}

// TestFullFixtureDecodes guards the fixture itself: its fields must be
// known to the runtime-spec, or it would only test skipping.
func TestFullFixtureDecodes(t *testing.T) {
	var spec specs.Spec
	if err := jsondec.Unmarshal(must(os.ReadFile("testdata/full.json")), &spec); err != nil {
		t.Fatal(err)
	}
	l := spec.Linux
	if l == nil || l.Resources == nil || l.Resources.Memory == nil || *l.Resources.Memory.Swap != -1 ||
		l.Resources.Rdma["mlx5_1"].HcaHandles == nil || l.Seccomp == nil || len(l.Seccomp.Syscalls[0].Args) != 1 ||
		l.TimeOffsets["boottime"].Secs != -3 || spec.Process.Rlimits[0].Hard != 1<<64-1 ||
		spec.Process.Args[2] != "echo \"h\u00e9llo\" \\ / \b\f\n\r\t \U0001F600 café 日本" ||
		spec.Hooks.StartContainer != nil || spec.Hooks.CreateContainer == nil ||
		spec.Windows == nil || spec.VM == nil || spec.ZOS == nil || spec.Solaris == nil {
		t.Fatalf("testdata/full.json decoded wrong: %+v", spec)
	}
}

// Types the runtime-spec does not use, to test the rest of the decoder.
type key string

type inner struct {
	A string `json:"a"`
	B int    `json:"b,omitempty"`
}

type Promoted struct {
	P1 string `json:"p1"`
	P2 int
}

type kinds struct {
	Promoted
	Tagged   inner  `json:"tagged"` // not promoted: named by its tag
	Str      string `json:"str"`
	Untagged string
	Opt      string `json:",omitempty"`
	Skip     string `json:"-"`
	//lint:ignore SA5008 a field named "-", as encoding/json reads it
	Dash   string `json:"-,"`
	hidden string
	I8     int8             `json:"i8"`
	U16    uint16           `json:"u16"`
	I      int              `json:"i"`
	U      uint64           `json:"u"`
	F32    float32          `json:"f32"`
	F64    float64          `json:"f64"`
	B      bool             `json:"b"`
	P      *int             `json:"p"`
	PP     **inner          `json:"pp"`
	S      []string         `json:"s"`
	SP     []*inner         `json:"sp"`
	Bytes  []byte           `json:"bytes"`
	Raw    json.RawMessage  `json:"raw"`
	PRaw   *json.RawMessage `json:"praw"`
	T      time.Time        `json:"t"`
	PT     *time.Time       `json:"pt"`
	M      map[string]inner `json:"m"`
	MK     map[key]*int     `json:"mk"`
	// Left to encoding/json.
	MI     map[int]string `json:"mi"`
	Any    any            `json:"any"`
	Arr    [2]int         `json:"arr"`
	Quoted int            `json:"quoted,string"`
	IP     net.IP         `json:"ip"` // a TextUnmarshaler
	Num    json.Number    `json:"num"`
}

type ptrEmbed struct {
	*inner
}

type sameName struct {
	Promoted
	P1 string `json:"p1"` // hides Promoted.P1: encoding/json arbitrates
}

var _ = kinds{}.hidden // set by nobody, decoded by nobody

// fastCases must take the fast path, with encoding/json's result.
var fastCases = []struct {
	name, in string
	spec     bool // into specs.Spec, else into kinds
}{
	{"null", `null`, true},
	{"empty", " \t\r\n{}\n", true},
	{"nulls", `{"process": null, "mounts": null, "annotations": null, "hostname": null, "root": {"readonly": null}}`, true},
	{"empty lists", `{"mounts": [], "annotations": {}, "process": {"args": [], "env": [""]}}`, true},
	{"max uint64, min int64", `{"process": {"rlimits": [{"hard": 18446744073709551615}]}, "linux": {"timeOffsets": {"x": {"secs": -9223372036854775808}}}}`, true},
	{"escaped key", `{"host\u006eame": "h"}`, true},
	{"unknown keys", `{"x": {"a": [1, 2.5e-3, -0, true, false, null, "\ud83d\ude00", {}], "b": {"c": []}}, "X": 1, "x": 2}`, true},
	{"strings", `{"str": "\"\\\/\b\f\n\r\t\u0000\u00e9\uFFFD\uD834\uDD1E é日本\u2028", "Untagged": "u", "Opt": "o", "-": "d"}`, false},
	{"promoted", `{"p1": "a", "P2": 2, "tagged": {"a": "x", "b": 1}}`, false},
	{"numbers", `{"i8": -128, "u16": 65535, "i": -0, "u": 0, "f32": 3.4e38, "f64": -1.5E-300, "b": true}`, false},
	{"pointers", `{"p": 3, "pp": {"a": "b"}, "sp": [null, {"a": "c"}]}`, false},
	{"pointers null", `{"p": null, "pp": null, "s": null, "bytes": null, "m": null, "mk": null}`, false},
	{"base64", `{"bytes": "aGVs\nbG8="}`, false},
	{"base64 empty", `{"bytes": ""}`, false},
	{"bytes as array", `{"bytes": [1, 2, 255]}`, false},
	{"raw", `{"raw": [1, {"a": null} ] , "praw": {"x": "\u00e9"}}`, false},
	{"raw null", `{"raw": null, "praw": null}`, false},
	{"time", `{"t": "2026-12-03T10:24:35.123456789+01:00", "pt": "2026-12-03T10:24:35Z"}`, false},
	{"time null", `{"t": null, "pt": null}`, false},
	{"maps", `{"m": {"x": {"a": "1"}, "": {}}, "mk": {"é": 1, "n": null}}`, false},
	{"any", `{"any": {"a": [1, -2.5e3, "s", true, false, null, {}, []], "b": null}}`, false},
	{"any null", `{"any": null}`, false},
	{"any scalar", `{"any": 1}`, false},
}

func TestFastPath(t *testing.T) {
	for _, c := range fastCases {
		t.Run(c.name, func(t *testing.T) {
			if !decodeLikeJSON(t, []byte(c.in), c.spec) {
				t.Fatalf("the fast path gave up on %s", c.in)
			}
		})
	}
}

func decodeLikeJSON(t *testing.T, data []byte, spec bool) bool {
	t.Helper()
	if spec {
		return fuzzcheck.DecodeLikeJSON[specs.Spec](t, data)
	}
	return fuzzcheck.DecodeLikeJSON[kinds](t, data)
}

// fallbackCases must make the fast path give up.
var fallbackCases = []struct {
	name, in string
	spec     bool
}{
	// Syntax errors, also in values that are only skipped.
	{"empty input", ``, true},
	{"only space", " \n", true},
	{"truncated", `{"ociVersion": "1.2.0"`, true},
	{"truncated string", `{"ociVersion": "1.2`, true},
	{"trailing data", `{} {}`, true},
	{"trailing garbage", `{}x`, true},
	{"trailing comma", `{"hostname": "a",}`, true},
	{"missing colon", `{"hostname" "a"}`, true},
	{"single quotes", `{'hostname': 'a'}`, true},
	{"bad literal", `{"root": {"readonly": tru}}`, true},
	{"literal with tail", `{"root": {"readonly": truex}}`, true},
	{"skipped bad literal", `{"x": nul}`, true},
	{"skipped array", `{"x": [1,]}`, true},
	{"skipped object", `{"x": {"a" 1}}`, true},
	{"skipped object key", `{"x": {1: 1}}`, true},
	{"skipped control char", "{\"x\": \"a\x01\"}", true},
	{"skipped bad escape", `{"x": "\q"}`, true},
	{"skipped short unicode escape", `{"x": "\u12"}`, true},
	{"leading zero", `{"x": 01}`, true},
	{"bare dot", `{"x": 1.}`, true},
	{"bare minus", `{"x": -}`, true},
	{"bad exponent", `{"x": 1e}`, true},
	{"plus sign", `{"x": +1}`, true},
	{"hex", `{"x": 0x1}`, true},
	{"deep", `{"x": ` + strings.Repeat("[", 1100) + strings.Repeat("]", 1100) + `}`, true},
	// Keys encoding/json matches case-insensitively.
	{"fold", `{"HostName": "h"}`, true},
	{"fold nested", `{"process": {"Args": ["sh"]}}`, true},
	{"non-ASCII unknown key", `{"ſ": 1}`, true},
	{"Kelvin sign", `{"linux": {"resources": {"pids": {"limit": 1, "\u212aernel": 1}}}}`, true},
	// Duplicate keys.
	{"duplicate field", `{"hostname": "a", "hostname": "b"}`, true},
	{"duplicate struct", `{"root": {"path": "a"}, "root": {"readonly": true}}`, true},
	{"duplicate map key", `{"annotations": {"a": "1", "a": "2"}}`, true},
	{"duplicate escaped map key", `{"annotations": {"a": "1", "\u0061": "2"}}`, true},
	// Numbers that do not fit.
	{"float into int", `{"process": {"user": {"uid": 1.0}}}`, true},
	{"exponent into int", `{"process": {"oomScoreAdj": 1e3}}`, true},
	{"negative into uint", `{"process": {"user": {"uid": -1}}}`, true},
	{"minus zero into uint", `{"process": {"user": {"uid": -0}}}`, true},
	{"overflow uint32", `{"process": {"user": {"uid": 4294967296}}}`, true},
	{"overflow uint64", `{"process": {"rlimits": [{"hard": 18446744073709551616}]}}`, true},
	{"overflow int8", `{"i8": 128}`, false},
	{"overflow float32", `{"f32": 1e39}`, false},
	{"overflow float64", `{"f64": 1e309}`, false},
	// JSON types that do not fit.
	{"number into string", `{"hostname": 1}`, true},
	{"string into bool", `{"root": {"readonly": "true"}}`, true},
	{"string into int", `{"process": {"user": {"uid": "0"}}}`, true},
	{"array into struct", `{"process": []}`, true},
	{"object into slice", `{"mounts": {}}`, true},
	{"string into map", `{"annotations": ""}`, true},
	{"number in map", `{"annotations": {"a": 1}}`, true},
	{"top-level array", `[]`, true},
	{"top-level string", `"x"`, true},
	{"half decoded", `{"hostname": "a", "domainname": 1, "ociVersion": "1"}`, true},
	// Strings encoding/json repairs.
	{"invalid UTF-8", "{\"hostname\": \"a\xffb\"}", true},
	{"encoded surrogate", "{\"hostname\": \"\xed\xa0\x80\"}", true},
	{"invalid UTF-8 map key", "{\"annotations\": {\"\xff\": \"\"}}", true},
	{"invalid UTF-8 in skipped value", "{\"x\": \"\xc3\"}", true},
	{"lone high surrogate", `{"hostname": "\ud800"}`, true},
	{"lone low surrogate", `{"hostname": "\udc00"}`, true},
	{"swapped surrogates", `{"hostname": "\udc00\ud800"}`, true},
	{"high surrogate then letter", `{"hostname": "\ud800\u0041"}`, true},
	// Types with decoding of their own, or encoding/json's special cases.
	{"interface number out of range", `{"any": [1e400]}`, false},
	{"interface duplicate key", `{"any": {"a": 1, "a": 2}}`, false},
	{"null into odd types", `{"mi": null, "arr": null, "quoted": null, "ip": null, "num": null}`, false},
	{"array", `{"arr": [1, 2, 3]}`, false},
	{"string option", `{"quoted": "1"}`, false},
	{"TextUnmarshaler", `{"ip": "127.0.0.1"}`, false},
	{"json.Number", `{"num": 1}`, false},
	{"int map keys", `{"mi": {"1": "a"}}`, false},
	{"bad base64", `{"bytes": "a"}`, false},
	{"bad time", `{"t": "yesterday"}`, false},
	{"time not a string", `{"t": 1}`, false},
	{"string into []string", `{"s": "a"}`, false},
}

func TestFallback(t *testing.T) {
	for _, c := range fallbackCases {
		t.Run(c.name, func(t *testing.T) {
			if decodeLikeJSON(t, []byte(c.in), c.spec) {
				t.Fatalf("the fast path took %q", c.in)
			}
		})
	}
}

// TestFallbackStructs: struct layouts where encoding/json arbitrates.
func TestFallbackStructs(t *testing.T) {
	for _, in := range []string{`{}`, `{"a": "x"}`, `{"P2": 1}`} {
		if fuzzcheck.DecodeLikeJSON[ptrEmbed](t, []byte(in)) {
			t.Errorf("the fast path took %s into an embedded pointer", in)
		}
		if fuzzcheck.DecodeLikeJSON[sameName](t, []byte(in)) {
			t.Errorf("the fast path took %s into a struct with a field name twice", in)
		}
	}
}

func TestNotAPointer(t *testing.T) {
	var spec specs.Spec
	for _, v := range []any{nil, spec, (*specs.Spec)(nil)} {
		if err := jsondec.Unmarshal([]byte(`{}`), v); !errors.Is(err, jsondec.ErrFallback) {
			t.Errorf("Unmarshal into %T: %v, want ErrFallback", v, err)
		}
		errStd := json.Unmarshal([]byte(`{}`), v)
		if err := jsondec.Decode([]byte(`{}`), v); err == nil || err.Error() != errStd.Error() {
			t.Errorf("Decode into %T: %v, want %v", v, err, errStd)
		}
	}
}

// TestDecodeResets: the fallback decodes into a zero value, not into what
// the fast path left.
func TestDecodeResets(t *testing.T) {
	var spec specs.Spec
	err := jsondec.Decode([]byte(`{"hostname": "a", "domainname": 1}`), &spec)
	var typ *json.UnmarshalTypeError
	if !errors.As(err, &typ) || typ.Field != "domainname" || spec.Hostname != "a" {
		t.Fatalf("got %v, %+v", err, spec)
	}
	spec = specs.Spec{}
	if err := jsondec.Decode([]byte(`{"hostname": "a", "Domainname": "b"}`), &spec); err != nil || spec.Domainname != "b" || spec.Hostname != "a" {
		t.Fatalf("got %v, %+v", err, spec)
	}
}

// TestFixtureFiles: the seed corpus of FuzzParseSpec, as files.
func TestFixtureFiles(t *testing.T) {
	const dir = "../../libcontainer/testdata/fuzz/FuzzParseSpec"
	paths, _ := filepath.Glob(dir + "/*")
	if len(paths) == 0 {
		t.Fatalf("%s: no corpus files", dir)
	}
	for _, p := range paths {
		for _, data := range corpusBytes(t, p) {
			decodeLikeJSON(t, data, true)
		}
	}
}

// TestReachableTypes: a runtime-spec bump adding a type that decodes
// itself would send every config.json to encoding/json, or worse.
func TestReachableTypes(t *testing.T) {
	fuzzcheck.FastPathTypes(t, reflect.TypeFor[specs.Spec]())
}

// corpusBytes reads the []byte values of a Go fuzz corpus file.
func corpusBytes(t *testing.T, path string) [][]byte {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, line := range strings.Split(string(data), "\n") {
		if q, ok := strings.CutPrefix(line, "[]byte("); ok {
			s, err := strconv.Unquote(strings.TrimSuffix(q, ")"))
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			out = append(out, []byte(s))
		}
	}
	return out
}
