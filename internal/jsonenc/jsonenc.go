// Package jsonenc writes husk's own small documents (state.json,
// cgroup.json, the init config) without encoding/json's cold start:
// encoding/json builds an encoder for every type on its first use, which
// cost ≈ 0.3 ms in a fresh process, paid twice by every create. Object
// writes members in the order they are added; strings are escaped exactly
// as encoding/json escapes them, so the output is the same byte for byte
// but for raw members, which are taken as they are (valid JSON, and left
// uncompacted).
package jsonenc

import (
	"encoding/base64"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"
)

// Object is a JSON object being written.
type Object struct {
	b    []byte
	open bool
}

func (o *Object) key(k string) {
	if o.open {
		o.b = append(o.b, ',')
	} else {
		o.b = append(o.b, '{')
		o.open = true
	}
	o.b = AppendString(o.b, k)
	o.b = append(o.b, ':')
}

// String adds a string member.
func (o *Object) String(k, v string) {
	o.key(k)
	o.b = AppendString(o.b, v)
}

// Int adds an integer member.
func (o *Object) Int(k string, v int64) {
	o.key(k)
	o.b = strconv.AppendInt(o.b, v, 10)
}

// Uint adds an unsigned integer member.
func (o *Object) Uint(k string, v uint64) {
	o.key(k)
	o.b = strconv.AppendUint(o.b, v, 10)
}

// Bool adds a boolean member.
func (o *Object) Bool(k string, v bool) {
	o.key(k)
	o.b = strconv.AppendBool(o.b, v)
}

// Raw adds a member whose value is raw, which must be valid JSON; nil
// (or empty) raw is written as null, as encoding/json writes a nil
// json.RawMessage.
func (o *Object) Raw(k string, raw []byte) {
	o.key(k)
	if len(raw) == 0 {
		o.b = append(o.b, "null"...)
		return
	}
	o.b = append(o.b, raw...)
}

// Bytes adds b as a base64 string, as encoding/json writes a []byte
// (null when b is nil).
func (o *Object) Bytes(k string, b []byte) {
	o.key(k)
	if b == nil {
		o.b = append(o.b, "null"...)
		return
	}
	o.b = append(o.b, '"')
	o.b = base64.StdEncoding.AppendEncode(o.b, b)
	o.b = append(o.b, '"')
}

// Time adds t as encoding/json writes a time.Time.
func (o *Object) Time(k string, t time.Time) error {
	v, err := t.MarshalJSON()
	if err != nil {
		return err
	}
	o.key(k)
	o.b = append(o.b, v...)
	return nil
}

// StringMap adds m with its keys sorted, null when m is nil.
func (o *Object) StringMap(k string, m map[string]string) {
	o.key(k)
	o.b = AppendStringMap(o.b, m)
}

// Object adds a member that is an object, written by f.
func (o *Object) Object(k string, f func(*Object)) {
	o.key(k)
	in := Object{b: o.b}
	f(&in)
	o.b = in.Done()
}

// Done ends the object and returns its bytes.
func (o *Object) Done() []byte {
	if !o.open {
		return append(o.b, "{}"...)
	}
	return append(o.b, '}')
}

// AppendStringMap appends m as a JSON object with sorted keys, null when
// m is nil.
func AppendStringMap(b []byte, m map[string]string) []byte {
	if m == nil {
		return append(b, "null"...)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	o := Object{b: b}
	for _, k := range keys {
		o.String(k, m[k])
	}
	return o.Done()
}

const hex = "0123456789abcdef"

// AppendString appends s as a JSON string, escaped as encoding/json
// escapes it: '"', '\\', control characters, '<', '>' and '&', U+2028 and
// U+2029, and invalid UTF-8 (as U+FFFD).
func AppendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
