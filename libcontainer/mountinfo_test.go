package libcontainer

import (
	"testing"
)

func TestUnescapeOctal(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/plain", "/plain"},
		{`/with\040space`, "/with space"},
		{`/tab\011and\012newline`, "/tab\tand\nnewline"},
		{`/back\134slash`, `/back\slash`},
		{`/a\040b\040c`, "/a b c"},
		{`/trailing\`, `/trailing\`},
		{`/short\04`, `/short\04`},
		{`/not\89octal`, `/not\89octal`},
		{`\040`, " "},
	}
	for _, tt := range tests {
		if got := unescapeOctal(tt.in); got != tt.want {
			t.Errorf("unescapeOctal(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestReadMountinfo(t *testing.T) {
	mounts, err := readMountinfo()
	if err != nil {
		t.Fatal(err)
	}
	root := false
	for _, m := range mounts {
		if m.mountpoint == "/" {
			root = true
		}
		if m.fstype == "" || m.mountpoint == "" || m.mountpoint[0] != '/' {
			t.Errorf("bad entry %+v", m)
		}
	}
	if !root {
		t.Errorf("no entry for / in %d mounts", len(mounts))
	}
}
