package libcontainer

import (
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func nsSpec(ns ...specs.LinuxNamespace) *specs.Spec {
	return &specs.Spec{Process: &specs.Process{}, Linux: &specs.Linux{Namespaces: ns}}
}

func TestCreateRequestClone(t *testing.T) {
	spec := nsSpec(
		specs.LinuxNamespace{Type: specs.PIDNamespace}, specs.LinuxNamespace{Type: specs.NetworkNamespace},
		specs.LinuxNamespace{Type: specs.IPCNamespace}, specs.LinuxNamespace{Type: specs.UTSNamespace},
		specs.LinuxNamespace{Type: specs.MountNamespace}, specs.LinuxNamespace{Type: specs.CgroupNamespace},
		specs.LinuxNamespace{Type: specs.TimeNamespace}, specs.LinuxNamespace{Type: specs.UserNamespace},
	)
	maps := []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
	gmaps := []specs.LinuxIDMapping{{ContainerID: 0, HostID: 200000, Size: 10}}
	spec.Linux.UIDMappings, spec.Linux.GIDMappings = maps, gmaps
	r := createRequest(spec)
	// A new cgroup namespace is the Go init's to unshare, once it is in
	// the container's cgroup: nsenter does not.
	want := unix.CLONE_NEWPID | unix.CLONE_NEWNET | unix.CLONE_NEWIPC | unix.CLONE_NEWUTS | unix.CLONE_NEWNS |
		unix.CLONE_NEWTIME | unix.CLONE_NEWUSER
	if r.clone != want {
		t.Errorf("clone %#x, want %#x", r.clone, want)
	}
	if len(r.join) != 0 {
		t.Errorf("join %q, want none", r.join)
	}
	if !reflect.DeepEqual(r.uidMap, maps) || !reflect.DeepEqual(r.gidMap, gmaps) {
		t.Errorf("maps %v %v, want %v %v", r.uidMap, r.gidMap, maps, gmaps)
	}
	if r.timens != "" || r.oom != nil {
		t.Errorf("timens %q oom %v, want none", r.timens, r.oom)
	}
}

func TestCreateRequestOnlyMount(t *testing.T) {
	r := createRequest(nsSpec(specs.LinuxNamespace{Type: specs.MountNamespace}))
	if r.clone != unix.CLONE_NEWNS {
		t.Errorf("clone %#x, want CLONE_NEWNS", r.clone)
	}
}

func TestCreateRequestJoinUserFirst(t *testing.T) {
	spec := nsSpec(
		specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: "/run/netns/a"},
		specs.LinuxNamespace{Type: specs.MountNamespace},
		specs.LinuxNamespace{Type: specs.IPCNamespace, Path: "/proc/7/ns/ipc"},
		specs.LinuxNamespace{Type: specs.UserNamespace, Path: "/proc/7/ns/user"},
		specs.LinuxNamespace{Type: specs.UTSNamespace, Path: "/proc/7/ns/uts"},
		specs.LinuxNamespace{Type: specs.PIDNamespace},
		specs.LinuxNamespace{Type: specs.CgroupNamespace, Path: "/proc/7/ns/cgroup"},
		specs.LinuxNamespace{Type: specs.TimeNamespace, Path: "/proc/7/ns/time"},
	)
	// Mappings belong to a new user namespace only.
	spec.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1, Size: 1}}
	spec.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1, Size: 1}}
	r := createRequest(spec)
	want := [][2]string{
		{"user", "/proc/7/ns/user"}, {"network", "/run/netns/a"}, {"ipc", "/proc/7/ns/ipc"},
		{"uts", "/proc/7/ns/uts"}, {"cgroup", "/proc/7/ns/cgroup"}, {"time", "/proc/7/ns/time"},
	}
	if !reflect.DeepEqual(r.join, want) {
		t.Errorf("join %q, want %q", r.join, want)
	}
	if r.clone != unix.CLONE_NEWNS|unix.CLONE_NEWPID {
		t.Errorf("clone %#x, want CLONE_NEWNS|CLONE_NEWPID", r.clone)
	}
	if r.uidMap != nil || r.gidMap != nil {
		t.Errorf("maps %v %v for a joined user namespace, want none", r.uidMap, r.gidMap)
	}

	// The user namespace last and first in the config give the same order.
	spec = nsSpec(
		specs.LinuxNamespace{Type: specs.MountNamespace, Path: "/m"},
		specs.LinuxNamespace{Type: specs.PIDNamespace, Path: "/p"},
		specs.LinuxNamespace{Type: specs.UserNamespace, Path: "/u"},
	)
	r = createRequest(spec)
	if want := [][2]string{{"user", "/u"}, {"mount", "/m"}, {"pid", "/p"}}; !reflect.DeepEqual(r.join, want) {
		t.Errorf("join %q, want %q", r.join, want)
	}
	if r.clone != 0 {
		t.Errorf("clone %#x, want 0", r.clone)
	}
}

func TestCreateRequestTimeOffsetsAndOOM(t *testing.T) {
	spec := nsSpec(specs.LinuxNamespace{Type: specs.MountNamespace}, specs.LinuxNamespace{Type: specs.TimeNamespace})
	spec.Linux.TimeOffsets = map[string]specs.LinuxTimeOffset{
		"monotonic": {Secs: 86400, Nanosecs: 5},
		"boottime":  {Secs: -3},
	}
	oom := -500
	spec.Process.OOMScoreAdj = &oom
	r := createRequest(spec)
	if !strings.HasSuffix(r.timens, "\n") {
		t.Errorf("timens %q: every line must end in a newline", r.timens)
	}
	lines := strings.Split(strings.TrimSuffix(r.timens, "\n"), "\n")
	slices.Sort(lines)
	if want := []string{"boottime -3 0", "monotonic 86400 5"}; !reflect.DeepEqual(lines, want) {
		t.Errorf("timens lines %q, want %q", lines, want)
	}
	if r.oom == nil || *r.oom != -500 {
		t.Errorf("oom %v, want -500", r.oom)
	}
	if !strings.Contains(string(r.encode()), "\x00oom=-500\x00") {
		t.Errorf("encode() = %q lacks oom=-500", r.encode())
	}
}

func TestNsRequestEncode(t *testing.T) {
	oom := 100
	r := nsRequest{
		join:   [][2]string{{"user", "/proc/1/ns/user"}, {"network", "/var/run/netns/a:b"}},
		clone:  unix.CLONE_NEWNS | unix.CLONE_NEWPID,
		timens: "monotonic 1 0\nboottime 2 0\n",
		oom:    &oom,
	}
	want := "join=user:/proc/1/ns/user\x00join=network:/var/run/netns/a:b\x00clone=" +
		strconv.Itoa(unix.CLONE_NEWNS|unix.CLONE_NEWPID) + "\x00timens=monotonic 1 0\nboottime 2 0\n\x00oom=100\x00"
	if got := string(r.encode()); got != want {
		t.Errorf("encode() = %q\nwant       %q", got, want)
	}
	if got, want := string((&nsRequest{}).encode()), "clone=0\x00"; got != want {
		t.Errorf("empty request encodes as %q, want %q", got, want)
	}
	zero := 0
	if got, want := string((&nsRequest{oom: &zero}).encode()), "clone=0\x00oom=0\x00"; got != want {
		t.Errorf("oom 0 encodes as %q, want %q (0 is a value, not unset)", got, want)
	}
}

// parseLikeNsenter reads a MSG_NSCONFIG payload with the loop nsenter.c
// uses: NUL-terminated strings, up to the payload length.
func parseLikeNsenter(payload []byte) (kv []string) {
	buf := append(slices.Clone(payload), 0) // nsenter terminates the buffer
	for i := 0; i < len(payload); {
		n := slices.Index(buf[i:], 0)
		kv = append(kv, string(buf[i:i+n]))
		i += n + 1
	}
	return kv
}

func TestNsRequestEncodeRoundTrip(t *testing.T) {
	oom := -17
	r := nsRequest{
		join:   [][2]string{{"user", "/u"}, {"mount", "/m"}, {"cgroup", "/c"}},
		clone:  unix.CLONE_NEWNET,
		timens: "boottime 5 6\n",
		oom:    &oom,
	}
	got := parseLikeNsenter(r.encode())
	want := []string{"join=user:/u", "join=mount:/m", "join=cgroup:/c", "clone=" + strconv.Itoa(unix.CLONE_NEWNET), "timens=boottime 5 6\n", "oom=-17"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("nsenter would read %q, want %q", got, want)
	}
}

// nsenter.c keeps its own table of namespace names and message numbers;
// they must agree with the Go side.
func TestNsenterAgreesWithGo(t *testing.T) {
	src, err := os.ReadFile("../nsenter/nsenter.c")
	if err != nil {
		t.Fatal(err)
	}
	cflags := map[string]int{
		"CLONE_NEWUSER": unix.CLONE_NEWUSER, "CLONE_NEWNS": unix.CLONE_NEWNS, "CLONE_NEWPID": unix.CLONE_NEWPID,
		"CLONE_NEWNET": unix.CLONE_NEWNET, "CLONE_NEWIPC": unix.CLONE_NEWIPC, "CLONE_NEWUTS": unix.CLONE_NEWUTS,
		"CLONE_NEWCGROUP": unix.CLONE_NEWCGROUP, "CLONE_NEWTIME": unix.CLONE_NEWTIME,
	}
	table := map[string]int{}
	for _, m := range regexp.MustCompile(`\{\s*"(\w+)",\s*(CLONE_\w+)\s*\}`).FindAllStringSubmatch(string(src), -1) {
		flag, ok := cflags[m[2]]
		if !ok {
			t.Errorf("nsenter.c: unknown flag %s", m[2])
		}
		table[m[1]] = flag
	}
	if len(table) == 0 {
		t.Fatal("no namespace table found in nsenter.c")
	}
	for typ, name := range nsenterNames {
		flag, ok := table[name]
		if !ok {
			t.Errorf("%s: nsenter.c does not know the name %q", typ, name)
			continue
		}
		if flag != cloneFlags[typ] {
			t.Errorf("%s: nsenter.c maps %q to %#x, Go clones %#x", typ, name, flag, cloneFlags[typ])
		}
	}
	for typ := range namespaceProcName {
		if _, ok := nsenterNames[typ]; !ok {
			t.Errorf("namespace %s passes validation but has no nsenter name", typ)
		}
		if _, ok := cloneFlags[typ]; !ok {
			t.Errorf("namespace %s passes validation but has no clone flag", typ)
		}
	}
	msgs := map[string]uint32{
		"MSG_NSCONFIG": msgNsConfig, "MSG_USERMAP_REQ": msgUsermapReq, "MSG_USERMAP_ACK": msgUsermapAck,
		"MSG_PID": msgPid, "MSG_ERROR": msgError,
	}
	for name, num := range msgs {
		m := regexp.MustCompile(name + `\s*=\s*(\d+)`).FindStringSubmatch(string(src))
		if m == nil {
			t.Errorf("nsenter.c does not define %s", name)
			continue
		}
		if m[1] != strconv.Itoa(int(num)) {
			t.Errorf("%s is %s in nsenter.c and %d in Go", name, m[1], num)
		}
	}
	for _, key := range []string{`"join="`, `"clone="`, `"timens="`, `"oom="`} {
		if !strings.Contains(string(src), key) {
			t.Errorf("nsenter.c does not parse %s", key)
		}
	}
}

// /proc/<pid>/ns/<name>, which exec joins, must exist for every namespace
// type a config may name.
func TestNamespaceProcNames(t *testing.T) {
	for typ, name := range namespaceProcName {
		if _, err := os.Lstat("/proc/self/ns/" + name); err != nil {
			t.Errorf("%s: %v", typ, err)
		}
	}
}

func TestCloneDirectly(t *testing.T) {
	const fresh = unix.CLONE_NEWPID | unix.CLONE_NEWNET | unix.CLONE_NEWNS | unix.CLONE_NEWIPC | unix.CLONE_NEWUTS
	for _, tc := range []struct {
		name string
		r    nsRequest
		want uintptr
	}{
		{"only new namespaces", nsRequest{clone: fresh}, fresh},
		{"nothing", nsRequest{}, 0},
		{"a join", nsRequest{clone: fresh, join: [][2]string{{"network", "/run/netns/a"}}}, 0},
		{"a new user namespace", nsRequest{clone: fresh | unix.CLONE_NEWUSER}, 0},
		{"a new time namespace", nsRequest{clone: fresh | unix.CLONE_NEWTIME}, 0},
	} {
		if got := tc.r.cloneDirectly(); got != tc.want {
			t.Errorf("%s: cloneDirectly() = %#x, want %#x", tc.name, got, tc.want)
		}
	}
}
