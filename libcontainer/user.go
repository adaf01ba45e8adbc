package libcontainer

import (
	"bufio"
	"os"
	"strconv"
	"strings"
)

// passwdEntry finds uid in the container's /etc/passwd: its name and home.
func passwdEntry(uid uint32) (name, home string, ok bool) {
	f, err := os.Open("/etc/passwd")
	if err != nil {
		return "", "", false
	}
	defer f.Close()
	want := strconv.FormatUint(uint64(uid), 10)
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Split(s.Text(), ":")
		if len(fields) >= 6 && fields[2] == want {
			return fields[0], fields[5], true
		}
	}
	return "", "", false
}

// memberGroups lists the gids of the container's /etc/group entries that
// name user as a member.
func memberGroups(user string) []uint32 {
	f, err := os.Open("/etc/group")
	if err != nil {
		return nil
	}
	defer f.Close()
	var gids []uint32
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Split(s.Text(), ":")
		if len(fields) < 4 {
			continue
		}
		for _, m := range strings.Split(fields[3], ",") {
			if m == user {
				if gid, err := strconv.ParseUint(fields[2], 10, 32); err == nil {
					gids = append(gids, uint32(gid))
				}
				break
			}
		}
	}
	return gids
}
