// Package fuzzcheck holds the properties that every fuzz target of husk
// checks on what it got back; only tests import it.
package fuzzcheck

import (
	"strings"
	"testing"
	"unicode"
)

// OneLine fails the test when err's message would not print as one line:
// a message has to quote what it got from the user (%q), not paste it.
func OneLine(t *testing.T, what string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	msg := err.Error()
	if msg == "" || strings.IndexFunc(msg, unicode.IsControl) >= 0 {
		t.Fatalf("%s: error is not one printable line: %q", what, msg)
	}
}
