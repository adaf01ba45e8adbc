package libcontainer

import (
	"bytes"
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
	"husk/internal/jsondec"
	"husk/internal/jsonenc"
)

const (
	stateFile = "state.json"
	startSock = "start.sock" // present while the container is created, not started
	// pausedFile marks a container the user paused: the cgroup is also
	// frozen for a moment while delete or kill --all kills it, which is
	// not "paused".
	pausedFile = "paused"
	// cgroupFile records the container's cgroup paths before any cgroup
	// directory exists, so that a create killed at any point can be cleaned.
	cgroupFile = "cgroup.json"
	// deletedSuffix renames a directory being removed out of the ID
	// namespace ('~' is not allowed in an ID), so `state` and `list` never
	// see it half-removed.
	deletedSuffix = "~deleted"
)

// errCorrupt marks a state.json that cannot be decoded.
var errCorrupt = errors.New("corrupt state")

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
	// First: the first record is written over cgroup.json, which starts
	// the same (see writeFirstRecord).
	CgroupPaths map[string]string `json:"cgroupPaths,omitempty"`
	State
	InitStartTime uint64          `json:"initStartTime"`
	Config        json.RawMessage `json:"config"`
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
// A directory deleted (renamed away) while we waited is not the one at dir
// any more: then dir, if a new create made it meanwhile, is locked instead.
func lockDir(dir string) (*os.File, error) {
	for {
		f, err := openStateDir(dir)
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
		var held, now unix.Stat_t
		if err := unix.Fstat(int(f.Fd()), &held); err != nil {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", dir, err)
		}
		err = unix.Stat(dir, &now)
		if err == nil && held.Dev == now.Dev && held.Ino == now.Ino {
			return f, nil
		}
		f.Close()
		if err != nil {
			return nil, &os.PathError{Op: "lock", Path: dir, Err: err}
		}
	}
}

// openStateDir opens a container directory, whose flock is the container's lock.
func openStateDir(dir string) (*os.File, error) {
	return os.OpenFile(dir, os.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
}

// lockHeld tells whether someone holds dir's lock, without waiting.
func lockHeld(dir string) bool {
	f, err := openStateDir(dir)
	if err != nil {
		return false
	}
	defer f.Close()
	return unix.Flock(int(f.Fd()), unix.LOCK_SH|unix.LOCK_NB) == unix.EWOULDBLOCK
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
			// Deleted while we waited for the lock (the directory was
			// renamed away), or a create that died early.
			return nil, fmt.Errorf("container %q: %w", id, ErrNotExist)
		}
		return nil, err
	}
	return &Container{ID: id, dir: dir, lock: lock, rec: rec}, nil
}

// makeLockedDir creates root/id already locked, with cgroup.json recording
// cgroupPaths: a directory with a name that is not an ID is made, filled
// and locked, then renamed into place, so no other command ever sees
// root/id unlocked without its state.json (which would be an abandoned
// create), nor cgroup.json half written.
func makeLockedDir(root, id string, cgroupPaths map[string]string) (string, *os.File, error) {
	tmp, err := os.MkdirTemp(root, id+"~creating-")
	if err != nil {
		return "", nil, fmt.Errorf("create state directory: %w", err)
	}
	lock, err := lockDir(tmp)
	if err == nil {
		err = writeCgroupFile(tmp, cgroupPaths)
	}
	if err == nil {
		err = os.Chmod(tmp, 0o711)
	}
	dir := filepath.Join(root, id)
	if err == nil {
		err = unix.Renameat2(unix.AT_FDCWD, tmp, unix.AT_FDCWD, dir, unix.RENAME_NOREPLACE)
		if errors.Is(err, unix.EEXIST) {
			err = fmt.Errorf("container %q already exists", id)
		} else if err != nil {
			err = fmt.Errorf("create state directory: %w", err)
		}
	}
	if err != nil {
		if lock != nil {
			lock.Close()
		}
		os.RemoveAll(tmp)
		return "", nil, err
	}
	return dir, lock, nil
}

// removeDir removes a locked container directory: first renamed to a name
// that is not an ID, so that readers find the container whole or not at all.
func removeDir(dir string) error {
	gone := dir + deletedSuffix
	if err := os.Rename(dir, gone); err != nil {
		// A name too long for the suffix, or debris of a delete killed
		// half way: remove in place.
		gone = dir
	}
	// The files husk keeps there, then the directory: os.RemoveAll would
	// first try it as a file and as an empty directory, then list it.
	for _, name := range []string{stateFile, cgroupFile, startSock, pausedFile} {
		unix.Unlink(filepath.Join(gone, name))
	}
	if unix.Rmdir(gone) == nil {
		return nil
	}
	if err := os.RemoveAll(gone); err != nil {
		return fmt.Errorf("remove state: %w", err)
	}
	return nil
}

// writeCgroupFile writes cgroup.json, {"cgroupPaths":...}: the cgroup
// paths, recorded before the directories exist, in a directory not yet in
// place (no temporary file and rename needed).
func writeCgroupFile(dir string, paths map[string]string) error {
	if err := os.WriteFile(filepath.Join(dir, cgroupFile), marshalCgroupFile(paths), 0o600); err != nil {
		return fmt.Errorf("record cgroups: %w", err)
	}
	return nil
}

// recordedCgroup reopens the cgroup recorded in dir's cgroup.json, or in
// a corrupt state.json (which cgroup.json became), nil when there is none.
// Only the leading cgroupPaths member is read: a create killed while
// writing its first record over cgroup.json (see writeFirstRecord) leaves
// that member whole and the rest cut off.
func recordedCgroup(dir string) (cgroups.Manager, error) {
	path := filepath.Join(dir, cgroupFile)
	data, err := os.ReadFile(path)
	fromState := errors.Is(err, os.ErrNotExist)
	if fromState {
		// cgroup.json became state.json: a damaged one may still start
		// with its cgroups.
		path = filepath.Join(dir, stateFile)
		if data, err = os.ReadFile(path); errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
	}
	if err != nil {
		return nil, err
	}
	paths, err := leadingCgroupPaths(data)
	if err != nil {
		if fromState {
			Warnf("%s: %v: the container's cgroups, if it had any, are left behind", path, err)
			return nil, nil
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return (&record{CgroupPaths: paths}).cgroup()
}

func leadingCgroupPaths(data []byte) (map[string]string, error) {
	d := json.NewDecoder(bytes.NewReader(data))
	switch tok, err := d.Token(); {
	case err != nil:
		return nil, err
	case tok == nil:
		return nil, nil // null: no cgroups
	case tok != json.Delim('{'):
		return nil, fmt.Errorf("starts with %v, not a JSON object", tok)
	}
	key, err := d.Token()
	if err != nil {
		return nil, err
	}
	if key == json.Delim('}') {
		return nil, nil
	}
	var paths map[string]string
	if key != "cgroupPaths" {
		// A plain map of paths, as husk wrote it before.
		if err := jsondec.Decode(data, &paths); err != nil {
			return nil, err
		}
		return paths, nil
	}
	if err := d.Decode(&paths); err != nil {
		return nil, fmt.Errorf("cgroupPaths: %w", err)
	}
	return paths, nil
}

// RemoveAbandoned removes what a create killed early left under root/id:
// a directory without state.json (and, with force, one whose state.json is
// corrupt), after killing and removing the cgroup it recorded. It waits
// for the lock, so a create in progress is never taken for abandoned. It
// also removes debris of creates and deletes killed half way (root/id~*).
// It tells whether there was a container directory to remove.
func RemoveAbandoned(root, id string, force bool) (bool, error) {
	dir, err := containerDir(root, id)
	if err != nil {
		return false, err
	}
	removeDebris(root, id)
	lock, err := lockDir(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return false, nil
		}
		return false, err
	}
	defer lock.Close()
	if _, err := readRecord(dir); err == nil {
		return false, nil // a whole container: not ours to remove
	} else if !errors.Is(err, os.ErrNotExist) && !(force && errors.Is(err, errCorrupt)) {
		return false, err
	}
	cg, err := recordedCgroup(dir)
	if err != nil {
		return false, err
	}
	if cg != nil {
		cg.Kill()
		if err := cg.Destroy(); err != nil {
			return false, fmt.Errorf("remove cgroup: %w", err)
		}
	}
	return true, removeDir(dir)
}

// removeDebris removes root/id~* entries (half-made or half-removed
// container directories) that nobody holds locked.
func removeDebris(root, id string) {
	matches, _ := filepath.Glob(filepath.Join(root, id+"~*"))
	for _, m := range matches {
		if lock, err := openStateDir(m); err == nil {
			if unix.Flock(int(lock.Fd()), unix.LOCK_EX|unix.LOCK_NB) == nil {
				os.RemoveAll(m)
			}
			lock.Close()
		}
	}
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
	if err := jsondec.Decode(data, &rec); err != nil {
		return nil, fmt.Errorf("%s: %w: %w", filepath.Join(dir, stateFile), errCorrupt, err)
	}
	return &rec, nil
}

// writeFirstRecord gives a new container its state.json without creating
// a file: the record is written over cgroup.json, whose content it starts
// with, and renamed into place. A new inode costs much in a churned ext4
// state root (the allocator skips inodes freed in the last minutes one by
// one): a fifth of the state directory's cost in a storm. The record is
// longer than the file and starts with the same bytes, so whatever point
// a killed create stops the write at, cgroup.json still starts with the
// whole cgroupPaths member; readers see state.json whole or not at all.
func writeFirstRecord(dir string, rec *record) error {
	data, err := rec.marshal()
	if err != nil {
		return err
	}
	old := marshalCgroupFile(rec.CgroupPaths)
	// An empty cgroupPaths is left out of the record: no common start.
	if len(rec.CgroupPaths) == 0 || !bytes.HasPrefix(data, old[:len(old)-1]) {
		return writeRecord(dir, rec)
	}
	path := filepath.Join(dir, cgroupFile)
	f, err := os.OpenFile(path, os.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	_, err = f.WriteAt(data, 0)
	if err == nil {
		err = f.Truncate(int64(len(data))) // in case the file held more
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(path, filepath.Join(dir, stateFile))
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", filepath.Join(dir, stateFile), err)
	}
	return nil
}

// marshal writes the record as json.Marshal does, without its encoders'
// cold start (≈ 0.3 ms in a new process). Config is valid JSON: it was
// decoded before it got here.
func (r *record) marshal() ([]byte, error) {
	var o jsonenc.Object
	if len(r.CgroupPaths) > 0 {
		o.StringMap("cgroupPaths", r.CgroupPaths)
	}
	writeSpecState(&o, r.State.State)
	o.String("rootfs", r.Rootfs)
	if err := o.Time("created", r.Created); err != nil {
		return nil, fmt.Errorf("created: %w", err)
	}
	o.String("owner", r.Owner)
	o.Uint("initStartTime", r.InitStartTime)
	o.Raw("config", r.Config)
	return o.Done(), nil
}

// writeSpecState writes the members of a specs.State as json.Marshal does.
func writeSpecState(o *jsonenc.Object, s specs.State) {
	o.String("ociVersion", s.Version)
	o.String("id", s.ID)
	o.String("status", string(s.Status))
	if s.Pid != 0 {
		o.Int("pid", int64(s.Pid))
	}
	o.String("bundle", s.Bundle)
	if len(s.Annotations) > 0 {
		o.StringMap("annotations", s.Annotations)
	}
}

// marshalCgroupFile gives cgroup.json's content: the start of a record.
func marshalCgroupFile(paths map[string]string) []byte {
	var o jsonenc.Object
	o.StringMap("cgroupPaths", paths)
	return o.Done()
}

// writeRecord replaces state.json atomically: readers see the old or the new file.
func writeRecord(dir string, rec *record) error {
	data, err := rec.marshal()
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

// poststopHooks reads only the poststop hooks of the recorded config:
// delete needs nothing else of it, and decoding and checking all of it
// was most of a delete's user time.
func (c *Container) poststopHooks() ([]specs.Hook, error) {
	if c.spec != nil {
		if c.spec.Hooks == nil {
			return nil, nil
		}
		return c.spec.Hooks.Poststop, nil
	}
	var cfg struct {
		Hooks *struct {
			Poststop []specs.Hook `json:"poststop"`
		} `json:"hooks"`
	}
	if err := jsondec.Decode(c.rec.Config, &cfg); err != nil {
		return nil, fmt.Errorf("%s: config: %w", filepath.Join(c.dir, stateFile), err)
	}
	if cfg.Hooks == nil {
		return nil, nil
	}
	return cfg.Hooks.Poststop, nil
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

// hookState is the state that hooks and seccomp agents get, with the
// status the caller knows: without State's status checks and owner lookup.
func (c *Container) hookState(status specs.ContainerState) specs.State {
	st := c.rec.State.State
	st.Status = status
	if status == specs.StateStopped {
		st.Pid = 0
	}
	return st
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
				// Creating while its create holds the lock; otherwise an
				// abandoned create, which `delete` removes.
				status := specs.StateStopped
				if lockHeld(dir) {
					status = specs.StateCreating
				}
				return State{State: specs.State{Version: specs.Version, ID: id, Status: status}}, nil
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
		if errors.Is(err, errCorrupt) {
			// Listed so that `delete -f` is seen to be needed.
			st, err = State{State: specs.State{Version: specs.Version, ID: e.Name(), Status: specs.StateStopped}}, nil
		}
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
