// Package jsondec is a fast path around encoding/json's cold start for
// decoding husk's own documents (config.json, the init config, state.json).
//
// encoding/json, on the first decode of a type, builds the field tables
// and encoders of every type reachable from it: for specs.Spec that is the
// whole runtime-spec (Windows, Solaris, VM, ZOS, all of Linux.Resources),
// about 0.9 ms per process on the critical path of a container start,
// paid again in the init. This decoder looks up, lazily and per struct
// type, only the types the input actually contains.
//
// It only handles plain, valid input whose meaning is beyond doubt. On
// anything else (a syntax error, a value that does not fit its field, a
// key that matches a field only case-insensitively, a duplicate key, a
// string that encoding/json would repair, a type with its own
// UnmarshalJSON...) it gives up with ErrFallback and Decode lets
// encoding/json decode the document again: the result and the error
// messages (*json.SyntaxError, *json.UnmarshalTypeError, which callers
// report with line and field) are then exactly encoding/json's.
package jsondec

import (
	"encoding"
	"encoding/base64"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// ErrFallback is what Unmarshal returns when the input is not for the
// fast path: the caller must decode it with encoding/json.
var ErrFallback = errors.New("jsondec: input needs encoding/json")

// fallback says why the fast path gave up (for tests and debugging); it
// is ErrFallback for errors.Is.
type fallback string

func (f fallback) Error() string        { return "jsondec: " + string(f) + ": input needs encoding/json" }
func (f fallback) Is(target error) bool { return target == ErrFallback }

// Decode decodes data into v, which must point to a zero value, with the
// same result and error as json.Unmarshal: by the fast path when it can,
// else by json.Unmarshal into v reset to its zero value (the fast path may
// have filled it half way).
func Decode(data []byte, v any) error {
	if Unmarshal(data, v) == nil {
		return nil
	}
	if rv := reflect.ValueOf(v); rv.Kind() == reflect.Pointer && !rv.IsNil() {
		rv.Elem().SetZero()
	}
	return json.Unmarshal(data, v)
}

// Unmarshal decodes data into v, which must point to a zero value (unlike
// json.Unmarshal, it does not merge into what is there), or returns an
// error satisfying errors.Is(err, ErrFallback), leaving v half filled.
func Unmarshal(data []byte, v any) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return fallback("not a non-nil pointer")
	}
	d := decoder{data: data}
	if err := d.value(rv.Elem(), 0); err != nil {
		return err
	}
	if d.skipSpace(); d.pos != len(d.data) {
		return fallback("data after the top-level value")
	}
	return nil
}

// maxDepth bounds the nesting; encoding/json allows 10000, deeper input
// here is simply left to it.
const maxDepth = 1000

type decoder struct {
	data []byte
	pos  int
}

// Errors of the input; each makes Decode fall back.
var (
	errSyntax   = fallback("invalid JSON")
	errType     = fallback("JSON value does not fit the Go type")
	errNumber   = fallback("number out of range of the Go type")
	errString   = fallback("string encoding/json would repair (invalid UTF-8 or lone surrogate)")
	errDup      = fallback("duplicate key")
	errFold     = fallback("key matching a field only case-insensitively")
	errDepth    = fallback("nesting too deep")
	errBase64   = fallback("invalid base64")
	errTypeKind = fallback("Go type not handled by the fast path")
)

func (d *decoder) skipSpace() {
	for d.pos < len(d.data) {
		switch d.data[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

// next skips white space and returns the next byte, 0 at the end.
func (d *decoder) next() byte {
	d.skipSpace()
	if d.pos < len(d.data) {
		return d.data[d.pos]
	}
	return 0
}

// literal consumes the keyword lit (true, false, null).
func (d *decoder) literal(lit string) error {
	if !strings.HasPrefix(string(d.data[d.pos:min(d.pos+len(lit), len(d.data))]), lit) {
		return errSyntax
	}
	d.pos += len(lit)
	return nil
}

// value decodes the next value into v (settable).
func (d *decoder) value(v reflect.Value, depth int) error {
	if depth > maxDepth {
		return errDepth
	}
	c := d.next()
	info := infoOf(v.Type())
	switch info.kind {
	case kindUnsupported:
		return errTypeKind
	case kindRaw, kindTime:
		// Their own UnmarshalJSON on the value's bytes, null included, as
		// encoding/json calls it: json.RawMessage keeps a copy of them.
		start := d.pos
		if err := d.skipValue(depth); err != nil {
			return err
		}
		if v.Addr().Interface().(json.Unmarshaler).UnmarshalJSON(d.data[start:d.pos]) != nil {
			return errType
		}
		return nil
	}
	if c == 'n' {
		// null empties pointers, maps and slices and leaves the rest alone.
		if err := d.literal("null"); err != nil {
			return err
		}
		switch v.Kind() {
		case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Interface:
			v.SetZero()
		}
		return nil
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		return d.value(v.Elem(), depth+1)
	case reflect.Struct:
		return d.object(v, info, depth)
	case reflect.Interface:
		x, err := d.anyValue(depth)
		if err == nil {
			v.Set(reflect.ValueOf(x))
		}
		return err
	case reflect.Map:
		return d.mapValue(v, depth)
	case reflect.Slice:
		if c == '"' && v.Type().Elem().Kind() == reflect.Uint8 {
			return d.bytes(v)
		}
		return d.array(v, depth)
	case reflect.String:
		if c != '"' {
			return errType
		}
		s, err := d.str()
		if err != nil {
			return err
		}
		v.SetString(s)
		return nil
	case reflect.Bool:
		switch c {
		case 't':
			v.SetBool(true)
			return d.literal("true")
		case 'f':
			return d.literal("false")
		}
		return errType
	}
	// A number kind.
	if c != '-' && (c < '0' || c > '9') {
		return errType
	}
	lit, err := d.number()
	if err != nil {
		return err
	}
	return setNumber(v, lit)
}

// setNumber stores the number literal lit as encoding/json does: integer
// kinds take only integer literals that fit.
func setNumber(v reflect.Value, lit string) error {
	switch v.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, err := strconv.ParseInt(lit, 10, 64)
		if err != nil || v.OverflowInt(n) {
			return errNumber
		}
		v.SetInt(n)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		n, err := strconv.ParseUint(lit, 10, 64)
		if err != nil || v.OverflowUint(n) {
			return errNumber
		}
		v.SetUint(n)
	case reflect.Float32, reflect.Float64:
		n, err := strconv.ParseFloat(lit, v.Type().Bits())
		if err != nil || v.OverflowFloat(n) {
			return errNumber
		}
		v.SetFloat(n)
	default:
		return errType
	}
	return nil
}

// object decodes a JSON object into the struct v.
func (d *decoder) object(v reflect.Value, info *typeInfo, depth int) error {
	seen := make([]bool, len(info.fields))
	return d.members(func(key string) error {
		i, ok := info.byName[key]
		if !ok {
			// encoding/json would take a key matching a field name only
			// case-insensitively (non-ASCII keys: checked conservatively).
			if !isASCII(key) || info.foldMatch(key) {
				return errFold
			}
			return d.skipValue(depth + 1)
		}
		f := &info.fields[i]
		if f.unsupported {
			return errTypeKind
		}
		if seen[i] {
			return errDup
		}
		seen[i] = true
		return d.value(v.FieldByIndex(f.index), depth+1)
	})
}

// mapValue decodes a JSON object into the map v (string keys, checked by
// infoOf).
func (d *decoder) mapValue(v reflect.Value, depth int) error {
	t := v.Type()
	if v.IsNil() {
		v.Set(reflect.MakeMap(t))
	}
	return d.members(func(key string) error {
		k := reflect.ValueOf(key).Convert(t.Key())
		if v.MapIndex(k).IsValid() {
			return errDup
		}
		e := reflect.New(t.Elem()).Elem()
		if err := d.value(e, depth+1); err != nil {
			return err
		}
		v.SetMapIndex(k, e)
		return nil
	})
}

// members reads an object, calling member for each key with the decoder
// at the key's value.
func (d *decoder) members(member func(key string) error) error {
	return d.container('{', '}', func() error {
		if d.next() != '"' {
			return errSyntax
		}
		key, err := d.str()
		if err != nil {
			return err
		}
		if d.next() != ':' {
			return errSyntax
		}
		d.pos++
		return member(key)
	})
}

// array decodes a JSON array into the slice v; like encoding/json, [] is
// an empty, non-nil slice.
func (d *decoder) array(v reflect.Value, depth int) error {
	v.Set(reflect.MakeSlice(v.Type(), 0, 0))
	return d.elements(func() error {
		i := v.Len()
		if i == v.Cap() {
			v.Grow(1)
		}
		v.SetLen(i + 1)
		return d.value(v.Index(i), depth+1)
	})
}

// elements reads an array, calling elem with the decoder at each value.
func (d *decoder) elements(elem func() error) error {
	return d.container('[', ']', elem)
}

// container reads the open byte, then items separated by commas up to the
// end byte, calling item with the decoder at each.
func (d *decoder) container(open, end byte, item func() error) error {
	if d.next() != open {
		return errType
	}
	d.pos++
	if d.next() == end {
		d.pos++
		return nil
	}
	for {
		if err := item(); err != nil {
			return err
		}
		switch d.next() {
		case ',':
			d.pos++
		case end:
			d.pos++
			return nil
		default:
			return errSyntax
		}
	}
}

// bytes decodes a base64 string into the []byte v as encoding/json does.
func (d *decoder) bytes(v reflect.Value) error {
	s, err := d.str()
	if err != nil {
		return err
	}
	b := make([]byte, base64.StdEncoding.DecodedLen(len(s)))
	n, err := base64.StdEncoding.Decode(b, []byte(s))
	if err != nil {
		return errBase64
	}
	v.SetBytes(b[:n])
	return nil
}

// number consumes a number literal, checked against the JSON grammar.
func (d *decoder) number() (string, error) {
	start := d.pos
	p := d.pos
	digits := func() bool {
		s := p
		for p < len(d.data) && d.data[p] >= '0' && d.data[p] <= '9' {
			p++
		}
		return p > s
	}
	if p < len(d.data) && d.data[p] == '-' {
		p++
	}
	switch {
	case p < len(d.data) && d.data[p] == '0':
		p++
	case !digits():
		return "", errSyntax
	}
	if p < len(d.data) && d.data[p] == '.' {
		p++
		if !digits() {
			return "", errSyntax
		}
	}
	if p < len(d.data) && (d.data[p] == 'e' || d.data[p] == 'E') {
		p++
		if p < len(d.data) && (d.data[p] == '+' || d.data[p] == '-') {
			p++
		}
		if !digits() {
			return "", errSyntax
		}
	}
	d.pos = p
	return string(d.data[start:p]), nil
}

// str consumes a string and returns its value. Strings that encoding/json
// would repair (invalid UTF-8, lone surrogates) are left to it.
func (d *decoder) str() (string, error) { return d.scanStr(true) }

// skipStr checks a string that is not decoded, building nothing.
func (d *decoder) skipStr() error {
	_, err := d.scanStr(false)
	return err
}

func (d *decoder) scanStr(keep bool) (string, error) {
	p := d.pos + 1 // past the quote
	// The common case: nothing escaped, all printable ASCII.
	for p < len(d.data) {
		c := d.data[p]
		if c == '"' {
			var s string
			if keep {
				s = string(d.data[d.pos+1 : p])
			}
			d.pos = p + 1
			return s, nil
		}
		if c == '\\' || c < 0x20 || c >= utf8.RuneSelf {
			break
		}
		p++
	}
	var buf []byte
	if keep {
		buf = append(buf, d.data[d.pos+1:p]...)
	}
	for p < len(d.data) {
		c := d.data[p]
		switch {
		case c == '"':
			d.pos = p + 1
			return string(buf), nil
		case c < 0x20:
			return "", errSyntax
		case c >= utf8.RuneSelf:
			r, n := utf8.DecodeRune(d.data[p:])
			if r == utf8.RuneError && n == 1 {
				return "", errString
			}
			if keep {
				buf = append(buf, d.data[p:p+n]...)
			}
			p += n
		case c != '\\':
			if keep {
				buf = append(buf, c)
			}
			p++
		default:
			r, n, err := unescape(d.data[p:])
			if err != nil {
				return "", err
			}
			if keep {
				buf = utf8.AppendRune(buf, r)
			}
			p += n
		}
	}
	return "", errSyntax
}

// unescape decodes the escape sequence at the start of b (a backslash),
// returning the rune and the bytes it took.
func unescape(b []byte) (rune, int, error) {
	if len(b) < 2 {
		return 0, 0, errSyntax
	}
	switch b[1] {
	case '"', '\\', '/':
		return rune(b[1]), 2, nil
	case 'b':
		return '\b', 2, nil
	case 'f':
		return '\f', 2, nil
	case 'n':
		return '\n', 2, nil
	case 'r':
		return '\r', 2, nil
	case 't':
		return '\t', 2, nil
	case 'u':
		r, ok := hex4(b[2:])
		if !ok {
			return 0, 0, errSyntax
		}
		if !utf16.IsSurrogate(r) {
			return r, 6, nil
		}
		// Only a high surrogate followed by a low one makes a rune.
		if len(b) >= 12 && b[6] == '\\' && b[7] == 'u' {
			if r2, ok := hex4(b[8:]); ok {
				if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
					return dec, 12, nil
				}
			}
		}
		return 0, 0, errString
	}
	return 0, 0, errSyntax
}

// hex4 decodes the four hex digits of a \u escape.
func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	n, err := strconv.ParseUint(string(b[:4]), 16, 16)
	return rune(n), err == nil
}

// anyValue decodes a value as encoding/json does into an empty interface
// (null is handled by the caller).
func (d *decoder) anyValue(depth int) (any, error) {
	if depth > maxDepth {
		return nil, errDepth
	}
	switch d.next() {
	case '{':
		m := map[string]any{}
		err := d.members(func(key string) error {
			if _, dup := m[key]; dup {
				return errDup
			}
			x, err := d.anyValue(depth + 1)
			m[key] = x
			return err
		})
		return m, err
	case '[':
		a := []any{}
		err := d.elements(func() error {
			x, err := d.anyValue(depth + 1)
			a = append(a, x)
			return err
		})
		return a, err
	case '"':
		return d.str()
	case 't':
		return true, d.literal("true")
	case 'f':
		return false, d.literal("false")
	case 'n':
		return nil, d.literal("null")
	}
	lit, err := d.number()
	if err != nil {
		return nil, err
	}
	f, err := strconv.ParseFloat(lit, 64)
	if err != nil {
		return nil, errNumber
	}
	return f, nil
}

// skipValue consumes a value that is not decoded (the value of an unknown
// key), checking its syntax: encoding/json rejects a document with a
// syntax error anywhere.
func (d *decoder) skipValue(depth int) error {
	if depth > maxDepth {
		return errDepth
	}
	switch d.next() {
	case '{':
		// Checks the keys as well (a repaired key is still a valid one,
		// but giving up on it costs nothing here).
		return d.members(func(string) error { return d.skipValue(depth + 1) })
	case '[':
		return d.elements(func() error { return d.skipValue(depth + 1) })
	case '"':
		return d.skipStr()
	case 't':
		return d.literal("true")
	case 'f':
		return d.literal("false")
	case 'n':
		return d.literal("null")
	}
	_, err := d.number()
	return err
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// How the fast path decodes a Go type.
type kind uint8

const (
	kindPlain       kind = iota // by its reflect.Kind
	kindRaw                     // json.RawMessage: the value's bytes
	kindTime                    // time.Time: its own UnmarshalJSON
	kindUnsupported             // left to encoding/json
)

type typeInfo struct {
	kind kind
	// Structs: the fields by JSON name.
	fields []field
	byName map[string]int
}

type field struct {
	name        string
	index       []int
	unsupported bool // a ",string" field: left to encoding/json
}

// foldMatch tells whether the ASCII key matches a field name
// case-insensitively. Unknown keys are rare, so no map for it.
func (info *typeInfo) foldMatch(key string) bool {
	for _, f := range info.fields {
		if strings.EqualFold(f.name, key) {
			return true
		}
	}
	return false
}

var (
	infoCache sync.Map // reflect.Type → *typeInfo

	rawMessageType      = reflect.TypeFor[json.RawMessage]()
	timeType            = reflect.TypeFor[time.Time]()
	numberType          = reflect.TypeFor[json.Number]()
	jsonUnmarshalerType = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// infoOf returns how to decode t, computed on t's first visit only.
func infoOf(t reflect.Type) *typeInfo {
	if info, ok := infoCache.Load(t); ok {
		return info.(*typeInfo)
	}
	info := newInfo(t)
	actual, _ := infoCache.LoadOrStore(t, info)
	return actual.(*typeInfo)
}

func newInfo(t reflect.Type) *typeInfo {
	switch {
	case t == rawMessageType:
		return &typeInfo{kind: kindRaw}
	case t == timeType:
		return &typeInfo{kind: kindTime}
	case t.Kind() == reflect.Pointer:
		return &typeInfo{} // decoded as its element
	case t == numberType || hasUnmarshaler(t):
		// Custom decoding, or a special case of encoding/json's.
		return &typeInfo{kind: kindUnsupported}
	}
	switch t.Kind() {
	case reflect.Interface:
		// any takes encoding/json's map[string]any, []any, float64...
		if t.NumMethod() == 0 {
			return &typeInfo{}
		}
	case reflect.Bool, reflect.String, reflect.Slice,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64:
		return &typeInfo{}
	case reflect.Map:
		// String keys only: encoding/json also takes integer and
		// TextUnmarshaler keys.
		if k := t.Key(); k.Kind() == reflect.String && !hasUnmarshaler(k) {
			return &typeInfo{}
		}
	case reflect.Struct:
		info := &typeInfo{byName: map[string]int{}}
		if info.addFields(t, nil) {
			return info
		}
	}
	// Arrays, interfaces with methods, and what JSON has no value for.
	return &typeInfo{kind: kindUnsupported}
}

func hasUnmarshaler(t reflect.Type) bool {
	if t.Name() == "" && t.Kind() != reflect.Struct {
		return false // no methods: only named types and structs embedding have them
	}
	p := reflect.PointerTo(t)
	return t.Implements(jsonUnmarshalerType) || p.Implements(jsonUnmarshalerType) ||
		t.Implements(textUnmarshalerType) || p.Implements(textUnmarshalerType)
}

// addFields adds the fields of struct t, found at index path prefix, with
// their names as encoding/json gives them, and tells whether it could.
// Layouts where encoding/json has to arbitrate between fields (the same
// name twice, as embedding can give; a non-ASCII name, which it may match
// case-folded to an ASCII key) or has to allocate embedded pointers are
// not handled.
func (info *typeInfo) addFields(t reflect.Type, prefix []int) bool {
	for i := range t.NumField() {
		sf := t.Field(i)
		tag := sf.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		index := sf.Index
		if prefix != nil {
			index = append(append([]int(nil), prefix...), i)
		}
		if sf.Anonymous && name == "" {
			// An embedded struct's fields are promoted.
			if sf.Type.Kind() == reflect.Struct && sf.IsExported() {
				if !info.addFields(sf.Type, index) {
					return false
				}
				continue
			}
			if sf.Type.Kind() == reflect.Struct || sf.Type.Kind() == reflect.Pointer {
				return false
			}
		}
		if !sf.IsExported() {
			continue
		}
		if name == "" {
			name = sf.Name
		} else if !validName(name) {
			return false // encoding/json would use sf.Name
		}
		if !isASCII(name) {
			return false
		}
		if _, dup := info.byName[name]; dup {
			return false
		}
		info.byName[name] = len(info.fields)
		info.fields = append(info.fields, field{name: name, index: index, unsupported: slices.Contains(strings.Split(opts, ","), "string")})
	}
	return true
}

// validName is a subset of the tag names encoding/json accepts.
func validName(name string) bool {
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("_-.:/@$", c)) {
			return false
		}
	}
	return true
}

// Handles tells whether the fast path decodes values of type t itself
// (not necessarily the types inside it): for tests that keep husk's
// documents on the fast path.
func Handles(t reflect.Type) bool {
	info := infoOf(t)
	if info.kind == kindUnsupported {
		return false
	}
	for _, f := range info.fields {
		if f.unsupported {
			return false
		}
	}
	return true
}
