package cgroups

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/cilium/ebpf/asm"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// A plan is every change Set makes, worked out and checked before the
// first one is made.
type plan struct {
	fs  fileSystem
	ops []op
	err error // the first problem found while planning
}

// op is one write to a cgroup file, or one device program to attach.
type op struct {
	field    string   // the linux.resources field it comes from
	path     string   // the file, or the directory for a device program
	chunks   []string // written with one write(2) each
	optional bool     // a file the kernel may lack: skipped if missing
	// retryEINVAL: on EINVAL, try again after the next write succeeds
	// (a CFS period or burst the old quota does not fit).
	retryEINVAL bool
	devices     asm.Instructions // attach this program to path instead
}

// fail records the first planning error.
func (p *plan) fail(field string, format string, args ...any) {
	if p.err == nil {
		p.err = fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...))
	}
}

// dir returns a controller's directory, or records an error naming the
// field when the host does not have the controller.
func (p *plan) dir(field, controller, dir string) bool {
	if dir == "" {
		p.fail(field, "the %s cgroup controller is not available on this host", controller)
		return false
	}
	return true
}

// write adds a write of one value.
func (p *plan) write(field, dir, file, value string) *op {
	return p.add(op{field: field, path: filepath.Join(dir, file), chunks: []string{value}})
}

func (p *plan) add(o op) *op {
	p.ops = append(p.ops, o)
	return &p.ops[len(p.ops)-1]
}

// read reads a value the plan depends on; a failure is a planning error.
func (p *plan) read(field, path string) (string, bool) {
	s, err := readString(p.fs, path)
	if err != nil {
		p.fail(field, "%v", err)
		return "", false
	}
	return s, true
}

// check makes sure every file the plan writes exists, dropping optional
// ones that do not, and returns the planning error if there was one.
func (p *plan) check() error {
	if p.err != nil {
		return p.err
	}
	kept := p.ops[:0]
	for _, o := range p.ops {
		if o.devices == nil && !p.fs.Exists(o.path) {
			if o.optional {
				continue
			}
			dir, file := filepath.Split(o.path)
			return fmt.Errorf("%s: %s does not exist in %s (the kernel or the cgroup lacks this setting)", o.field, file, filepath.Clean(dir))
		}
		kept = append(kept, o)
	}
	p.ops = kept
	return nil
}

// run makes the writes in order.
func (p *plan) run() error {
	var retry []op
	for _, o := range p.ops {
		err := p.do(o)
		if err != nil && o.retryEINVAL && errors.Is(err, unix.EINVAL) {
			retry = append(retry, o)
			continue
		}
		if err != nil {
			return err
		}
		if !o.retryEINVAL {
			for _, r := range retry {
				if err := p.do(r); err != nil {
					return err
				}
			}
			retry = nil
		}
	}
	for _, r := range retry {
		if err := p.do(r); err != nil {
			return err
		}
	}
	return nil
}

func (p *plan) do(o op) error {
	if o.devices != nil {
		if err := p.fs.AttachDevices(o.path, o.devices); err != nil {
			return fmt.Errorf("%s: %w", o.field, err)
		}
		return nil
	}
	if err := p.fs.WriteFile(o.path, o.chunks...); err != nil {
		value := strings.Join(o.chunks, "\n")
		var ce *chunkError
		if errors.As(err, &ce) {
			value = ce.chunk
		}
		err = fmt.Errorf("%s: write %q to %s: %w", o.field, value, o.path, unwrapPath(err))
		return p.explain(o, err)
	}
	return nil
}

// unwrapPath drops the *PathError around an errno: the message names the
// path already.
func unwrapPath(err error) error {
	var errno unix.Errno
	if errors.As(err, &errno) {
		return errno
	}
	return err
}

// explain adds the usage to a refused memory limit.
func (p *plan) explain(o op, err error) error {
	if !errors.Is(err, unix.EBUSY) {
		return err
	}
	dir, file := filepath.Split(o.path)
	var usage string
	switch file {
	case "memory.limit_in_bytes", "memory.memsw.limit_in_bytes":
		usage = "memory.usage_in_bytes"
	case "memory.max", "memory.swap.max":
		usage = "memory.current"
	default:
		return err
	}
	if u, e := readString(p.fs, filepath.Join(dir, usage)); e == nil {
		return fmt.Errorf("%w (the cgroup uses %s bytes)", err, u)
	}
	return err
}

// set is every manager's Set: validate, plan the writes, check them all
// against the host, and only then write.
func set(r *specs.LinuxResources, planFor func(*specs.LinuxResources) *plan) error {
	if r == nil {
		return nil
	}
	if err := Validate(r); err != nil {
		return err
	}
	p := planFor(r)
	if err := p.check(); err != nil {
		return err
	}
	return p.run()
}
