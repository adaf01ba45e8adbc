package libcontainer

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"husk/cgroups"
)

const (
	stateFile = "state.json"
	startSock = "start.sock" // present while the container is created, not started
	// pausedFile marks a container the user paused: the cgroup is also
	// frozen for a moment while delete or kill --all kills it, which is
	// not "paused".
	pausedFile = "paused"
)

// StatePaused is the status runc reports for a frozen container; the
// runtime-spec has no name for it, and engines expect runc's.
const StatePaused specs.ContainerState = "paused"

// ErrNotExist is returned for an ID with no container under the root.
var ErrNotExist = errors.New("container does not exist")

// State is what `state` and `list` print: the runtime-spec state plus the
// fields runc adds, which engines parse.
type State struct {
	specs.State
	Rootfs  string    `json:"rootfs"`
	Created time.Time `json:"created"`
	Owner   string    `json:"owner"`
}

// record is state.json: the state at create time plus what later commands
// need to act on the container without reading the bundle again.
type record struct {
	State
	InitStartTime uint64            `json:"initStartTime"`
	Config        json.RawMessage   `json:"config"`
	CgroupPaths   map[string]string `json:"cgroupPaths,omitempty"`
}

// Container is an opened, locked container directory under the root.
type Container struct {
	ID   string
	dir  string
	lock *os.File
	rec  *record
	spec *specs.Spec
}

func containerDir(root, id string) (string, error) {
	if err := ValidateID(id); err != nil {
		return "", err
	}
	return filepath.Join(root, id), nil
}

// lockDir takes the container's lock: an exclusive flock on its directory.
func lockDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(dir, os.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", dir, err)
	}
	return f, nil
}

// Open locks and loads an existing container. Close releases the lock.
func Open(root, id string) (*Container, error) {
	dir, err := containerDir(root, id)
	if err != nil {
		return nil, err
	}
	lock, err := lockDir(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("container %q: %w", id, ErrNotExist)
		}
		return nil, err
	}
	rec, err := readRecord(dir)
	if err != nil {
		lock.Close()
		if errors.Is(err, os.ErrNotExist) {
			// Deleted while we waited for the lock, or a create that died early.
			return nil, fmt.Errorf("container %q: %w", id, ErrNotExist)
		}
		return nil, err
	}
	return &Container{ID: id, dir: dir, lock: lock, rec: rec}, nil
}

// Close releases the container's lock.
func (c *Container) Close() {
	if c.lock != nil {
		c.lock.Close()
		c.lock = nil
	}
}

func readRecord(dir string) (*record, error) {
	data, err := os.ReadFile(filepath.Join(dir, stateFile))
	if err != nil {
		return nil, err
	}
	var rec record
	if err := json.Unmarshal(data, &rec); err != nil {
		return nil, fmt.Errorf("%s: corrupt state: %w", filepath.Join(dir, stateFile), err)
	}
	return &rec, nil
}

// writeRecord replaces state.json atomically: readers see the old or the new file.
func writeRecord(dir string, rec *record) error {
	data, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(dir, stateFile), data, 0o600)
}

func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Chmod(mode)
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// Spec returns the container's config as it was at create time.
func (c *Container) Spec() (*specs.Spec, error) {
	if c.spec == nil {
		spec, err := ParseSpec(filepath.Join(c.dir, stateFile), c.rec.Config)
		if err != nil {
			return nil, err
		}
		c.spec = spec
	}
	return c.spec, nil
}

// Pid is the container init's pid on the host.
func (c *Container) Pid() int { return c.rec.Pid }

// Status derives the status from the init process and the start socket.
func (c *Container) Status() specs.ContainerState {
	return status(c.dir, c.rec)
}

func status(dir string, rec *record) specs.ContainerState {
	if !processAlive(rec.Pid, rec.InitStartTime) {
		return specs.StateStopped
	}
	if _, err := os.Lstat(filepath.Join(dir, startSock)); err == nil {
		return specs.StateCreated
	}
	if _, err := os.Lstat(filepath.Join(dir, pausedFile)); err == nil {
		return StatePaused
	}
	return specs.StateRunning
}

// cgroup reopens the container's cgroup; nil when it has none.
func (rec *record) cgroup() (cgroups.Manager, error) {
	if len(rec.CgroupPaths) == 0 {
		return nil, nil
	}
	return cgroups.Load(rec.CgroupPaths)
}

// State returns the container's current state for `state` and hooks.
func (c *Container) State() State {
	return currentState(c.dir, c.rec)
}

func currentState(dir string, rec *record) State {
	st := rec.State
	st.Status = status(dir, rec)
	if st.Status == specs.StateStopped {
		st.Pid = 0
	}
	st.Owner = owner(dir)
	return st
}

func owner(dir string) string {
	fi, err := os.Stat(dir)
	if err != nil {
		return ""
	}
	uid := fi.Sys().(*syscall.Stat_t).Uid
	if u, err := user.LookupId(strconv.Itoa(int(uid))); err == nil {
		return u.Username
	}
	return "#" + strconv.Itoa(int(uid))
}

// ReadState reads a container's state without taking its lock, so `state`
// and `list` never wait for a slow create or delete.
func ReadState(root, id string) (State, error) {
	dir, err := containerDir(root, id)
	if err != nil {
		return State{}, err
	}
	rec, err := readRecord(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			if _, serr := os.Stat(dir); serr == nil {
				return State{State: specs.State{Version: specs.Version, ID: id, Status: specs.StateCreating}}, nil
			}
			return State{}, fmt.Errorf("container %q: %w", id, ErrNotExist)
		}
		return State{}, err
	}
	return currentState(dir, rec), nil
}

// List returns the state of every container under root, sorted by ID.
func List(root string) ([]State, error) {
	entries, err := os.ReadDir(root)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	var out []State
	for _, e := range entries {
		if !e.IsDir() || ValidateID(e.Name()) != nil {
			continue
		}
		st, err := ReadState(root, e.Name())
		if err != nil {
			continue // deleted meanwhile
		}
		out = append(out, st)
	}
	return out, nil
}

// processAlive says whether pid runs and is the process that was started at
// startTime (so a recycled pid is not mistaken for the container).
func processAlive(pid int, startTime uint64) bool {
	if pid <= 0 {
		return false
	}
	st, err := readProcStat(pid)
	if err != nil {
		return false
	}
	if st.state == 'Z' || st.state == 'X' {
		return false
	}
	return startTime == 0 || st.startTime == startTime
}
