package libcontainer

import (
	"fmt"
	"slices"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"husk/cgroups"
)

// How a container's processes enter its cgroup without a pid written to
// cgroup.procs (slow: see cgroups.Placement):
//   - exec: the process is cloned into the v2 directory and nsenter, still
//     single-threaded, writes "0" to each v1 tasks file;
//   - create, on a host with v1 hierarchies: the init is cloned into the
//     unified directory (it has no memory controller there) and joins the
//     v1 hierarchies itself on COMMIT, with the thread that will exec, so
//     its setup is not charged to the container;
//   - create, on a v2 host or in a user namespace: the parent writes the
//     init's pid after the setup, as cloning it into the cgroup would
//     charge the setup to it, and an init in a user namespace may not
//     open the host's tasks files.

// initJoinsItself says whether the init of a new container joins its v1
// hierarchies itself.
func initJoinsItself(cg cgroups.Manager, spec *specs.Spec) bool {
	userns := slices.ContainsFunc(spec.Linux.Namespaces, func(ns specs.LinuxNamespace) bool {
		return ns.Type == specs.UserNamespace
	})
	return !userns && cg.Placement().HasV1()
}

// createPlacement returns the v2 directory the init of a new container is
// cloned into, and whether the parent must move it by pid once set up.
func createPlacement(cg cgroups.Manager, spec *specs.Spec) (cloneInto string, byPid bool) {
	if !initJoinsItself(cg, spec) {
		return "", true
	}
	return cg.Placement().CloneInto, false
}

// openCgroupTasks opens, before pivot_root, the v1 tasks files the init
// joins on COMMIT, when it joins them itself.
func openCgroupTasks(paths map[string]string, spec *specs.Spec) ([]cgroups.TasksFile, error) {
	if len(paths) == 0 {
		return nil, nil
	}
	cg, err := cgroups.Load(paths)
	if err != nil {
		return nil, err
	}
	if !initJoinsItself(cg, spec) {
		return nil, nil
	}
	return cgroups.OpenTasks(cg.Placement().Tasks)
}

// cloneIntoAttr gives the clone's attributes, with the child cloned into
// the cgroup v2 directory dir unless it is ""; the returned func closes the
// directory once started.
func cloneIntoAttr(dir string) (*syscall.SysProcAttr, func(), error) {
	if dir == "" {
		return &syscall.SysProcAttr{}, func() {}, nil
	}
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("open cgroup %s: %w", dir, err)
	}
	return &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: fd}, func() { unix.Close(fd) }, nil
}
