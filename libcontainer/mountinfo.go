package libcontainer

import (
	"bufio"
	"os"
	"strings"

	"husk/internal/mountinfo"
)

type mountEntry struct {
	root       string
	mountpoint string
	fstype     string
	superOpts  string
}

// readMountinfo parses /proc/self/mountinfo.
func readMountinfo() ([]mountEntry, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []mountEntry
	s := bufio.NewScanner(f)
	for s.Scan() {
		// id parent major:minor root mountpoint opts [optional...] - fstype source superopts
		pre, post, ok := strings.Cut(s.Text(), " - ")
		if !ok {
			continue
		}
		a, b := strings.Fields(pre), strings.Fields(post)
		if len(a) < 5 || len(b) < 3 {
			continue
		}
		out = append(out, mountEntry{root: mountinfo.Unescape(a[3]), mountpoint: mountinfo.Unescape(a[4]), fstype: b[0], superOpts: b[2]})
	}
	return out, s.Err()
}
