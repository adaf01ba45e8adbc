package mountinfo

import (
	"slices"
	"testing"
)

func TestUnescape(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/plain", "/plain"},
		{`/with\040space`, "/with space"},
		{`/tab\011and\012newline`, "/tab\tand\nnewline"},
		{`/back\134slash`, `/back\slash`},
		{`/a\040b\040c`, "/a b c"},
		{`/trailing\`, `/trailing\`},
		{`/short\04`, `/short\04`},
		{`/not\89octal`, `/not\89octal`},
		{`/big\400`, `/big\400`},
		{`\040`, " "},
	}
	for _, tt := range tests {
		if got := Unescape(tt.in); got != tt.want {
			t.Errorf("Unescape(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestPointsUnder(t *testing.T) {
	data := "22 1 0:21 / /proc rw - proc proc rw\n" +
		"30 1 0:30 / /run/b\\040x rw - tmpfs tmpfs rw\n" +
		"31 30 0:31 / /run/b\\040x/sub rw - tmpfs tmpfs rw\n" +
		"32 1 0:32 / /run/b\\040xy rw - tmpfs tmpfs rw\n"
	got := PointsUnder(data, "/run/b x")
	if want := []string{"/run/b x", "/run/b x/sub"}; !slices.Equal(got, want) {
		t.Errorf("PointsUnder = %q, want %q", got, want)
	}
}
