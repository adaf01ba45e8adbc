package libcontainer

import (
	"os"
	"testing"
)

func TestUnescapeOctal(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/plain", "/plain"},
		{`/with\040space`, "/with space"},
		{`/tab\011and\012newline`, "/tab\tand\nnewline"},
		{`/back\134slash`, `/back\slash`},
		{`/a\040b\040c`, "/a b c"},
		{`/trailing\`, `/trailing\`},
		{`/short\04`, `/short\04`},
		{`/not\89octal`, `/not\89octal`},
		{`\040`, " "},
	}
	for _, tt := range tests {
		if got := unescapeOctal(tt.in); got != tt.want {
			t.Errorf("unescapeOctal(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestReadMountinfo(t *testing.T) {
	mounts, err := readMountinfo()
	if err != nil {
		t.Fatal(err)
	}
	root := false
	for _, m := range mounts {
		if m.mountpoint == "/" {
			root = true
		}
		if m.fstype == "" || m.mountpoint == "" || m.mountpoint[0] != '/' {
			t.Errorf("bad entry %+v", m)
		}
	}
	if !root {
		t.Errorf("no entry for / in %d mounts", len(mounts))
	}
}

func TestOwnCgroupMatches(t *testing.T) {
	unified := ownCgroup{path: "/user.slice"}
	cpu := ownCgroup{controllers: []string{"cpu", "cpuacct"}, path: "/a"}
	named := ownCgroup{controllers: []string{"name=systemd"}, path: "/b"}
	tests := []struct {
		cg   ownCgroup
		m    mountEntry
		want bool
	}{
		{unified, mountEntry{fstype: "cgroup2", superOpts: "rw,nsdelegate"}, true},
		{unified, mountEntry{fstype: "cgroup", superOpts: "rw,cpu"}, false},
		{cpu, mountEntry{fstype: "cgroup2", superOpts: "rw"}, false},
		{cpu, mountEntry{fstype: "cgroup", superOpts: "rw,cpu,cpuacct"}, true},
		{cpu, mountEntry{fstype: "cgroup", superOpts: "rw,cpuacct,cpu"}, true},
		{cpu, mountEntry{fstype: "cgroup", superOpts: "rw,cpu"}, false},
		{cpu, mountEntry{fstype: "cgroup", superOpts: "rw,cpuset"}, false},
		{cpu, mountEntry{fstype: "tmpfs", superOpts: "rw,cpu,cpuacct"}, false},
		{named, mountEntry{fstype: "cgroup", superOpts: "rw,xattr,name=systemd"}, true},
		{named, mountEntry{fstype: "cgroup", superOpts: "rw,xattr,name=systemd2"}, false},
	}
	for _, tt := range tests {
		if got := tt.cg.matches(tt.m); got != tt.want {
			t.Errorf("%+v matches %+v = %v, want %v", tt.cg, tt.m, got, tt.want)
		}
	}
}

func TestReadOwnCgroups(t *testing.T) {
	if _, err := os.Stat("/proc/self/cgroup"); err != nil {
		t.Skip(err)
	}
	own, err := readOwnCgroups()
	if err != nil {
		t.Fatal(err)
	}
	if len(own) == 0 {
		t.Fatal("no cgroups read")
	}
	for _, cg := range own {
		if cg.path == "" || cg.path[0] != '/' {
			t.Errorf("bad cgroup path in %+v", cg)
		}
	}
}
