package mountinfo

import "testing"

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
