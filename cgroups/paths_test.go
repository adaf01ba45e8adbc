package cgroups

import (
	"encoding/json"
	"maps"
	"strings"
	"testing"
)

const v2Mountinfo = `22 1 0:21 / /sys rw,nosuid - sysfs sysfs rw
30 22 0:27 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
`

const hybridMountinfo = `30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
31 30 0:28 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
33 30 0:30 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
34 30 0:31 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 30 0:36 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
77 30 0:31 / /mnt/other\040memory rw,relatime - cgroup cgroup rw,memory
`

const hybridOwn = `9:name=systemd:/user.slice/s.scope
4:memory:/process_api/abc
3:cpuset:/
2:cpu,cpuacct:/user.slice
1:net_cls:/
0::/user.slice/s.scope
`

func TestResolveV2(t *testing.T) {
	own := "0::/user.slice/session-1.scope\n"
	for _, c := range []struct{ path, id, want string }{
		{"", "c1", "/sys/fs/cgroup/user.slice/session-1.scope/c1"},
		{"/husk/c1", "x", "/sys/fs/cgroup/husk/c1"},
		{"husk/c1", "x", "/sys/fs/cgroup/user.slice/session-1.scope/husk/c1"},
		{"/a/../b//./c/", "x", "/sys/fs/cgroup/b/c"},
		{"a/b/..", "x", "/sys/fs/cgroup/user.slice/session-1.scope/a"},
		{"system.slice:husk:c1", "x", "/sys/fs/cgroup/user.slice/session-1.scope/system.slice:husk:c1"},
	} {
		paths, err := resolvePaths(layoutV2, own, v2Mountinfo, c.path, c.id)
		if err != nil {
			t.Errorf("%q: %v", c.path, err)
			continue
		}
		if len(paths) != 1 || paths[""] != c.want {
			t.Errorf("%q: got %v, want %s", c.path, paths, c.want)
		}
	}
}

func TestResolveRefusesEscapes(t *testing.T) {
	own := "0::/user.slice\n"
	for _, c := range []struct{ path, id, msg string }{
		{"/..", "x", "climbs out of the cgroup root"},
		{"/a/../../b", "x", "climbs out"},
		{"../other", "x", "climbs out of husk's own cgroup"},
		{"a/../..", "x", "climbs out"},
		{"/", "x", "names the cgroup root itself"},
		{"//./", "x", "names the cgroup root itself"},
		{".", "x", "names husk's own cgroup itself"},
		{"a/..", "x", "names husk's own cgroup itself"},
		{"", "", "cannot name a cgroup"},
		{"", "a/b", "cannot name a cgroup"},
		{"", "..", "cannot name a cgroup"},
	} {
		_, err := resolvePaths(layoutV2, own, v2Mountinfo, c.path, c.id)
		if err == nil || !strings.HasPrefix(err.Error(), "linux.cgroupsPath: ") || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("path %q id %q: got %v, want linux.cgroupsPath error with %q", c.path, c.id, err, c.msg)
		}
	}
}

func TestResolveHybrid(t *testing.T) {
	paths, err := resolvePaths(layoutHybrid, hybridOwn, hybridMountinfo, "", "c1")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"name=systemd": "/sys/fs/cgroup/systemd/user.slice/s.scope/c1",
		"memory":       "/sys/fs/cgroup/memory/process_api/abc/c1",
		"cpuset":       "/sys/fs/cgroup/cpuset/c1",
		"cpu":          "/sys/fs/cgroup/cpu,cpuacct/user.slice/c1",
		"cpuacct":      "/sys/fs/cgroup/cpu,cpuacct/user.slice/c1",
		"":             "/sys/fs/cgroup/unified/user.slice/s.scope/c1",
	}
	if !maps.Equal(paths, want) {
		t.Errorf("got %v\nwant %v", paths, want)
	}
	// net_cls is listed but not mounted: no path, so setting it fails.
	paths, err = resolvePaths(layoutV1, hybridOwn, hybridMountinfo, "/husk/c1", "x")
	if err != nil {
		t.Fatal(err)
	}
	if paths["memory"] != "/sys/fs/cgroup/memory/husk/c1" || paths["cpuacct"] != "/sys/fs/cgroup/cpu,cpuacct/husk/c1" {
		t.Errorf("absolute path: %v", paths)
	}
	if _, ok := paths[""]; ok {
		t.Errorf("a v1 host got a unified path: %v", paths)
	}
}

// In a container without a cgroup namespace, a hierarchy is mounted from
// the container's cgroup down, and /proc/self/cgroup shows the full path.
func TestResolveBindMountedHierarchy(t *testing.T) {
	mi := "34 30 0:31 /docker/abc /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
	own := "4:memory:/docker/abc/inner\n"
	paths, err := resolvePaths(layoutV1, own, mi, "", "c1")
	if err != nil {
		t.Fatal(err)
	}
	if got := paths["memory"]; got != "/sys/fs/cgroup/memory/inner/c1" {
		t.Errorf("got %s", got)
	}
	if _, err := resolvePaths(layoutV1, "4:memory:/elsewhere\n", mi, "", "c1"); err == nil {
		t.Error("own cgroup outside the mount: no error")
	}
}

func TestLoad(t *testing.T) {
	for _, bad := range []map[string]string{
		nil,
		{"": "relative/path"},
		{"": "/sys/fs/cgroup/../../etc"},
		{"memory": "/tmp/x"},
		{"": "/sys/fs/cgroup"},
	} {
		if _, err := Load(bad); err == nil {
			t.Errorf("Load(%v): no error", bad)
		}
	}
	v2 := map[string]string{"": "/sys/fs/cgroup/husk/c1"}
	m, err := Load(v2)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := m.(*v2Manager); !ok || !maps.Equal(m.Paths(), v2) || m.Path("memory") != v2[""] {
		t.Errorf("v2 load: %T %v", m, m.Paths())
	}
	v1 := map[string]string{"memory": "/sys/fs/cgroup/memory/c1", "": "/sys/fs/cgroup/unified/c1"}
	data, err := json.Marshal(v1)
	if err != nil {
		t.Fatal(err)
	}
	var back map[string]string
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	m, err = Load(back)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := m.(*v1Manager); !ok || !maps.Equal(m.Paths(), v1) || m.Path("") != v1[""] || m.Path("cpu") != "" {
		t.Errorf("v1 load: %T %v", m, m.Paths())
	}
}
