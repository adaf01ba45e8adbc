package libcontainer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"husk/internal/timerslack"
)

// runHooks runs hooks in order, each with the state JSON on stdin, and
// stops at the first failure.
func runHooks(kind string, hooks []specs.Hook, st specs.State) error {
	if len(hooks) == 0 {
		return nil
	}
	state, err := json.Marshal(st)
	if err != nil {
		return err
	}
	for i, h := range hooks {
		if err := runHook(h, state); err != nil {
			return fmt.Errorf("hooks.%s[%d] %s: %w", kind, i, h.Path, err)
		}
	}
	return nil
}

// warnHooks runs poststart or poststop hooks: the runtime-spec makes a
// failure there a warning, and the remaining hooks still run.
func warnHooks(kind string, hooks []specs.Hook, st specs.State) {
	if len(hooks) == 0 {
		return
	}
	state, err := json.Marshal(st)
	if err != nil {
		Warnf("hooks.%s: %v", kind, err)
		return
	}
	for i, h := range hooks {
		if err := runHook(h, state); err != nil {
			Warnf("hooks.%s[%d] %s: %v", kind, i, h.Path, err)
		}
	}
}

func runHook(h specs.Hook, state []byte) error {
	ctx := context.Background()
	if h.Timeout != nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(*h.Timeout)*time.Second)
		defer cancel()
	}
	args := h.Args
	if len(args) == 0 {
		args = []string{h.Path}
	}
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, h.Path)
	cmd.Args = args
	cmd.Env = h.Env
	if cmd.Env == nil {
		cmd.Env = []string{} // the spec's env, not husk's
	}
	cmd.Stdin = bytes.NewReader(state)
	cmd.Stdout = &out
	cmd.Stderr = &out
	// A hook dies with husk (or the init) if it is killed meanwhile.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	// A hook's children may keep its output open; do not wait for them.
	cmd.WaitDelay = time.Second
	err := timerslack.Run(cmd)
	if errors.Is(err, exec.ErrWaitDelay) {
		err = nil // the hook itself succeeded; a child of it kept its output open
	}
	if ctx.Err() == context.DeadlineExceeded {
		return fmt.Errorf("timed out after %ds", *h.Timeout)
	}
	if err != nil {
		var exitErr *exec.ExitError
		if msg := oneLine(out.String()); msg != "" && errors.As(err, &exitErr) {
			return fmt.Errorf("%w: %s", err, msg)
		}
		return err
	}
	return nil
}

// oneLine squeezes a command's output into one short line for an error.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}
