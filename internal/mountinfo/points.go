package mountinfo

import "strings"

// PointsUnder lists, in the order of data (a mountinfo file's content),
// the mount points that are dir or below it.
func PointsUnder(data, dir string) []string {
	var mps []string
	for l := range strings.Lines(data) {
		// The fifth field is the mount point, octal-escaped.
		if f := strings.Fields(l); len(f) > 4 {
			if mp := Unescape(f[4]); mp == dir || strings.HasPrefix(mp, dir+"/") {
				mps = append(mps, mp)
			}
		}
	}
	return mps
}
