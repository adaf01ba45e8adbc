package libcontainer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"husk/internal/jsondec"
)

// ConfigError names the file and field of a bad configuration.
type ConfigError struct {
	File  string
	Field string
	Msg   string
}

func (e *ConfigError) Error() string {
	if e.Field == "" {
		return e.File + ": " + e.Msg
	}
	return e.File + ": " + e.Field + ": " + e.Msg
}

// Bundle is an OCI bundle: its directory and its parsed config.json.
type Bundle struct {
	Dir    string // absolute
	File   string // config.json as the user would name it, for messages
	Spec   *specs.Spec
	Raw    []byte // config.json as read, handed on without re-encoding
	Rootfs string // absolute path of root.path
}

// LoadBundle reads and validates dir/config.json.
func LoadBundle(dir string) (*Bundle, error) {
	name := filepath.Join(dir, "config.json")
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("bundle %s: %w", dir, err)
	}
	raw, err := os.ReadFile(name)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, &ConfigError{File: name, Msg: "no such file (is --bundle right?)"}
		}
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	spec, err := ParseSpec(name, raw)
	if err != nil {
		return nil, err
	}
	b := &Bundle{Dir: abs, File: name, Spec: spec, Raw: raw}
	if err := validateSpec(name, spec); err != nil {
		return nil, err
	}
	if b.Rootfs, err = resolveRootfs(name, abs, spec.Root.Path); err != nil {
		return nil, err
	}
	return b, nil
}

// ParseSpec decodes a config.json, reporting syntax errors with line and
// column. Unknown properties are ignored, as the runtime-spec requires.
func ParseSpec(name string, raw []byte) (*specs.Spec, error) {
	var spec specs.Spec
	// jsondec: encoding/json's first decode of a specs.Spec costs ~1 ms;
	// it falls back to encoding/json, whose errors jsonError knows.
	if err := jsondec.Decode(raw, &spec); err != nil {
		return nil, jsonError(name, raw, err)
	}
	if spec.Hooks == nil {
		spec.Hooks = &specs.Hooks{} // so callers can range over any hook list
	}
	return &spec, nil
}

func jsonError(name string, raw []byte, err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		line, col := position(raw, syntax.Offset-1) // Offset is just past the bad byte
		return &ConfigError{File: name, Msg: fmt.Sprintf("invalid JSON at line %d, column %d: %v", line, col, syntax)}
	case errors.As(err, &typ):
		return &ConfigError{File: name, Field: typ.Field, Msg: fmt.Sprintf("cannot use JSON %s as %s", typ.Value, typ.Type)}
	case errors.Is(err, errors.ErrUnsupported), err.Error() == "unexpected end of JSON input":
		return &ConfigError{File: name, Msg: "invalid JSON: unexpected end of input (truncated file?)"}
	}
	return &ConfigError{File: name, Msg: "invalid JSON: " + err.Error()}
}

// position gives the 1-based line and column of raw[idx].
func position(raw []byte, idx int64) (line, col int) {
	idx = max(0, min(idx, int64(len(raw))))
	before := raw[:idx]
	line = bytes.Count(before, []byte("\n")) + 1
	col = int(idx) - bytes.LastIndexByte(before, '\n')
	return line, col
}

func resolveRootfs(name, bundle, path string) (string, error) {
	rootfs := path
	if !filepath.IsAbs(rootfs) {
		rootfs = filepath.Join(bundle, rootfs)
	}
	rootfs, err := filepath.EvalSymlinks(rootfs)
	if err != nil {
		return "", &ConfigError{File: name, Field: "root.path", Msg: fmt.Sprintf("%q: %v", path, unwrapPathError(err))}
	}
	fi, err := os.Stat(rootfs)
	if err != nil {
		return "", &ConfigError{File: name, Field: "root.path", Msg: fmt.Sprintf("%q: %v", path, unwrapPathError(err))}
	}
	if !fi.IsDir() {
		return "", &ConfigError{File: name, Field: "root.path", Msg: fmt.Sprintf("%q is not a directory", path)}
	}
	return rootfs, nil
}

func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
