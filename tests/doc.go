// Package tests is husk's integration suite: it runs real containers through
// the husk command line and asserts what the container sees.
//
// Run it as root:
//
//	go test ./tests/ -count=1
//
// HUSK_BIN selects the runtime binary (default ../bin/husk relative to this
// directory). Any runc-compatible runtime can be checked the same way, e.g.
// HUSK_BIN=/usr/bin/runc; checks of husk-only behaviour (error wording,
// features runc 1.1 lacks) are skipped when the binary is runc.
//
// The busybox root filesystem comes from scripts/mkrootfs.sh, built once per
// run. Everything else (bundles, state roots, host directories) lives in a
// private temporary directory per test and is removed afterwards.
package tests
