package tests

import (
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// A start that fails (here a startContainer hook) leaves the container
// stopped when it returns: a plain delete, as containerd's shim sends next,
// succeeds at once. Otherwise the shim's delete fails and the shim stays.
func TestStartFailureLeavesStopped(t *testing.T) {
	skipIfRunc(t, "runc runs startContainer hooks during create")
	e := newEnv(t)
	s := baseSpec(sleeper...)
	setHook(s, "startContainer", specs.Hook{Path: "/bin/sh", Args: []string{"sh", "-c", "exit 3"}})
	c := e.create(s)
	mustFail(t, e.husk("start", c.id))
	if st := c.state(); st.Status != specs.StateStopped {
		t.Errorf("state right after the failed start: %+v", st)
	}
	mustSucceed(t, c.delete())
	c.assertGone()
}
