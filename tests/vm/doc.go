// Package vmtests holds the tests that need cgroup v2: memory, pids and
// device limits, freezing and cgroup removal, and every other
// linux.resources field (resources_test.go), update, events and ps. The development and CI
// machines have cgroup v1, so 'make test-vm' (scripts/vm/run.sh) runs them
// inside a QEMU virtual machine with cgroup2 mounted at /sys/fs/cgroup and
// every controller enabled; there they run as root, once per runtime.
//
// On a host without cgroup v2 every test skips itself, unless HUSK_VM=1 (set
// inside the VM), where a missing cgroup v2 is a failure. On a cgroup v2
// host they run only on request, as root, since they make cgroups at the
// root of the hierarchy: RUNTIME=$PWD/bin/husk go test ./tests/vm/ -count=1 -v
//
// The tests use only the runc command line (--root R create, start, run,
// state, kill, pause, resume, delete, update, events, ps), so any
// runc-compatible runtime can be checked. What runc 1.1.5 does not do
// (cpu.burst, cpu.idle, hugetlb rsvd.max, device rules after its defaults
// and in update, an update checked before any write, unified keys such as
// cgroup.procs refused) is checked for husk only: a subtest that skips
// itself when the runtime's file name does not start with "husk".
// A check that needs what the VM lacks (swap accounting, 2 MiB huge pages,
// a block device for io.max) skips itself and says why.
//
// Environment:
//
//	RUNTIME            runtime binary (default HUSK_BIN, else /vm/husk in the
//	                   VM, else ../../bin/husk)
//	VM_ROOTFS          busybox rootfs to share read-only (default: made with
//	                   scripts/mkrootfs.sh in a temporary directory)
//	VM_EXPECT_CGROUPS  0: the runtime is not expected to manage cgroups yet;
//	                   each cgroup test runs in a child process and a failure
//	                   there is reported as a skip (an expected failure).
//	                   Anything else (default): the cgroup tests must pass.
//
// Each container gets linux.cgroupsPath /vmtests/<id>, so its cgroup is
// /sys/fs/cgroup/vmtests/<id>, and writes its results to /out, a
// bind-mounted directory of the test.
package vmtests
