// Package mountinfo holds what every reader of /proc/<pid>/mountinfo
// needs, in plain Go so that the statically linked test packages can use
// it too.
package mountinfo

import "strings"

// Unescape undoes the kernel's \NNN octal escapes in a mountinfo field
// (\040 for a space, \134 for a backslash); anything else stays as it is.
func Unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' {
			if v, ok := octal3(s[i+1:]); ok {
				b.WriteByte(v)
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func octal3(s string) (byte, bool) {
	if len(s) < 3 {
		return 0, false
	}
	var v int
	for _, c := range s[:3] {
		if c < '0' || c > '7' {
			return 0, false
		}
		v = v*8 + int(c-'0')
	}
	return byte(v), v < 256
}
