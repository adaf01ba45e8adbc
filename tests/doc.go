// Package tests is husk's integration suite: it runs real containers through
// the husk command line and asserts what the container sees.
//
// Run it as root:
//
//	go test ./tests/ -count=1
//
// HUSK_BIN selects the runtime binary (default ../bin/husk relative to this
// directory). Any runc-compatible runtime can be checked the same way, e.g.
// HUSK_BIN=/usr/bin/runc; checks of husk-only behaviour are skipped when the
// binary is runc (isRunc). Where runc 1.1 differs:
//   - error wording: husk prints one line naming the file or field;
//   - no time namespace, domainname ignored;
//   - ociVersion is not checked and unknown bind mount options are accepted;
//   - poststart hooks run at the end of create (state "created"), not start.
//
// The test binary must stay statically linked (no cgo in this package): the
// /proc/self/exe tests copy it into containers as the attacker.
//
// The busybox root filesystem comes from scripts/mkrootfs.sh, built once per
// run. Everything else (bundles, state roots, host directories) lives in a
// private temporary directory per test and is removed afterwards.
package tests
