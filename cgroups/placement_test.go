package cgroups

import (
	"slices"
	"testing"
)

func TestPlacement(t *testing.T) {
	v1, err := Load(map[string]string{
		"cpu":     "/sys/fs/cgroup/cpu,cpuacct/c",
		"cpuacct": "/sys/fs/cgroup/cpu,cpuacct/c",
		"memory":  "/sys/fs/cgroup/memory/c",
		"":        "/sys/fs/cgroup/unified/c",
	})
	if err != nil {
		t.Fatal(err)
	}
	p := v1.Placement()
	want := []string{"/sys/fs/cgroup/cpu,cpuacct/c/tasks", "/sys/fs/cgroup/memory/c/tasks"}
	if !slices.Equal(p.Tasks, want) || p.CloneInto != "/sys/fs/cgroup/unified/c" || !p.HasV1() {
		t.Errorf("hybrid placement = %+v, want tasks %v and the unified directory", p, want)
	}
	v2, err := Load(map[string]string{"": "/sys/fs/cgroup/c"})
	if err != nil {
		t.Fatal(err)
	}
	if p := v2.Placement(); p.HasV1() || p.CloneInto != "/sys/fs/cgroup/c" {
		t.Errorf("v2 placement = %+v, want only the v2 directory", p)
	}
}
