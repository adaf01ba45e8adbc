package libcontainer

import (
	"testing"
)

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
