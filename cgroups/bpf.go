package cgroups

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"runtime"
	"unsafe"

	"github.com/cilium/ebpf/asm"
	"golang.org/x/sys/unix"
)

// The device program goes through bpf(2) directly rather than through
// cilium/ebpf's ebpf and link packages: their package-level setup costs
// about half a millisecond in every process that links them (husk init
// included), and a device program needs five bpf commands only. The asm
// package builds the instructions.

// bpfCall runs one bpf(2) command; a BPF_PROG_LOAD interrupted by a
// signal (EAGAIN since 4.20) is retried a bounded number of times.
func bpfCall(cmd int, attr unsafe.Pointer, size uintptr) (int, error) {
	for tries := 0; ; tries++ {
		r, _, errno := unix.Syscall(unix.SYS_BPF, uintptr(cmd), uintptr(attr), size)
		if errno == 0 {
			return int(r), nil
		}
		if (errno == unix.EAGAIN && cmd == unix.BPF_PROG_LOAD || errno == unix.EINTR) && tries < 30 {
			continue
		}
		return -1, errno
	}
}

// bpfFD makes sure a new bpf fd is not 0, which the attach commands would
// read as "no fd" (stdin may be closed).
func bpfFD(fd int, err error) (int, error) {
	if err != nil || fd != 0 {
		return fd, err
	}
	nfd, err := unix.FcntlInt(0, unix.F_DUPFD_CLOEXEC, 3)
	unix.Close(0)
	return nfd, err
}

// progLoadAttr is the start of union bpf_attr for BPF_PROG_LOAD.
type progLoadAttr struct {
	progType    uint32
	insnCnt     uint32
	insns       uint64
	license     uint64
	logLevel    uint32
	logSize     uint32
	logBuf      uint64
	kernVersion uint32
	progFlags   uint32
	progName    [16]byte
}

// loadDeviceProgram loads a BPF_PROG_TYPE_CGROUP_DEVICE program and
// returns its fd. A refused program is loaded again with the verifier log,
// for the error.
func loadDeviceProgram(insns asm.Instructions) (int, error) {
	// asm takes binary.LittleEndian or binary.BigEndian only.
	var order binary.ByteOrder = binary.LittleEndian
	if binary.NativeEndian.Uint16([]byte{1, 0}) != 1 {
		order = binary.BigEndian
	}
	var buf bytes.Buffer
	if err := insns.Marshal(&buf, order); err != nil {
		return -1, err
	}
	code := buf.Bytes()
	license := []byte("Apache-2.0\x00")
	var pin runtime.Pinner
	defer pin.Unpin()
	pin.Pin(&code[0])
	pin.Pin(&license[0])
	attr := progLoadAttr{
		progType: unix.BPF_PROG_TYPE_CGROUP_DEVICE,
		insnCnt:  uint32(len(code) / asm.InstructionSize),
		insns:    uint64(uintptr(unsafe.Pointer(&code[0]))),
		license:  uint64(uintptr(unsafe.Pointer(&license[0]))),
	}
	copy(attr.progName[:], "husk_devices")
	load := func() (int, error) {
		return bpfFD(bpfCall(unix.BPF_PROG_LOAD, unsafe.Pointer(&attr), unsafe.Sizeof(attr)))
	}
	fd, err := load()
	if errors.Is(err, unix.EPERM) {
		// Kernels before 5.11 charge BPF memory to RLIMIT_MEMLOCK.
		fd, err = withMemlock(load)
	}
	if err == nil {
		return fd, nil
	}
	log := make([]byte, 64<<10)
	pin.Pin(&log[0])
	attr.logLevel, attr.logSize, attr.logBuf = 1, uint32(len(log)), uint64(uintptr(unsafe.Pointer(&log[0])))
	if fd, lerr := load(); lerr == nil {
		return fd, nil
	}
	if n := bytes.IndexByte(log, 0); n > 0 {
		return -1, fmt.Errorf("%w: %s", err, bytes.TrimSpace(log[:n]))
	}
	return -1, err
}

// withMemlock runs load with RLIMIT_MEMLOCK raised to infinity and then
// restores it, so that later children of the runtime do not inherit it.
func withMemlock(load func() (int, error)) (int, error) {
	var old unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_MEMLOCK, &old); err != nil {
		return load()
	}
	if err := unix.Setrlimit(unix.RLIMIT_MEMLOCK, &unix.Rlimit{Cur: unix.RLIM_INFINITY, Max: unix.RLIM_INFINITY}); err != nil {
		return load()
	}
	defer unix.Setrlimit(unix.RLIMIT_MEMLOCK, &old)
	return load()
}

// progQueryAttr is union bpf_attr for BPF_PROG_QUERY, to its end: kernels
// 6.17 and later write revision whatever size they are given.
type progQueryAttr struct {
	targetFd        uint32
	attachType      uint32
	queryFlags      uint32
	attachFlags     uint32
	progIDs         uint64
	progCnt         uint32
	_               uint32
	progAttachFlags uint64
	linkIDs         uint64
	linkAttachFlags uint64
	revision        uint64
}

// attachedDevicePrograms lists the ids of the device programs attached to
// a cgroup directory (not those of its ancestors).
func attachedDevicePrograms(dirFd int) ([]uint32, error) {
	for size := 64; ; {
		ids := make([]uint32, size)
		var pin runtime.Pinner
		pin.Pin(&ids[0])
		attr := progQueryAttr{
			targetFd:   uint32(dirFd),
			attachType: unix.BPF_CGROUP_DEVICE,
			progIDs:    uint64(uintptr(unsafe.Pointer(&ids[0]))),
			progCnt:    uint32(size),
		}
		_, err := bpfCall(unix.BPF_PROG_QUERY, unsafe.Pointer(&attr), unsafe.Sizeof(attr))
		pin.Unpin()
		if errors.Is(err, unix.ENOSPC) && int(attr.progCnt) > size {
			size = int(attr.progCnt)
			continue
		}
		if err != nil {
			return nil, err
		}
		return ids[:attr.progCnt], nil
	}
}

// progAttachAttr is union bpf_attr for BPF_PROG_ATTACH and BPF_PROG_DETACH.
type progAttachAttr struct {
	targetFd     uint32
	attachBpfFd  uint32
	attachType   uint32
	attachFlags  uint32
	replaceBpfFd uint32
}

// attachDeviceProgram loads the program and attaches it to a cgroup v2
// directory with BPF_F_ALLOW_MULTI, then detaches the device programs that
// were attached there before: while both are attached a device must pass
// both, so an update never allows more than the old or the new rules.
// BPF_PROG_ATTACH (not a bpf_link) keeps the program attached after this
// process exits, for as long as the cgroup exists.
func attachDeviceProgram(dir string, insns asm.Instructions) error {
	prog, err := loadDeviceProgram(insns)
	if err != nil {
		return fmt.Errorf("load the device program: %w", err)
	}
	defer unix.Close(prog)
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	dirFd := int(d.Fd())
	old, err := attachedDevicePrograms(dirFd)
	if err != nil {
		return fmt.Errorf("list the device programs of %s: %w", dir, err)
	}
	attr := progAttachAttr{targetFd: uint32(dirFd), attachBpfFd: uint32(prog), attachType: unix.BPF_CGROUP_DEVICE, attachFlags: unix.BPF_F_ALLOW_MULTI}
	if _, err := bpfCall(unix.BPF_PROG_ATTACH, unsafe.Pointer(&attr), unsafe.Sizeof(attr)); err != nil {
		return fmt.Errorf("attach the device program to %s: %w", dir, err)
	}
	for _, id := range old {
		idAttr := struct{ id uint32 }{id}
		fd, err := bpfFD(bpfCall(unix.BPF_PROG_GET_FD_BY_ID, unsafe.Pointer(&idAttr), unsafe.Sizeof(idAttr)))
		if errors.Is(err, unix.ENOENT) {
			continue // gone meanwhile
		}
		if err != nil {
			return fmt.Errorf("open device program %d of %s: %w", id, dir, err)
		}
		attr := progAttachAttr{targetFd: uint32(dirFd), attachBpfFd: uint32(fd), attachType: unix.BPF_CGROUP_DEVICE}
		_, err = bpfCall(unix.BPF_PROG_DETACH, unsafe.Pointer(&attr), unsafe.Sizeof(attr))
		unix.Close(fd)
		if err != nil && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("detach device program %d from %s: %w", id, dir, err)
		}
	}
	return nil
}
