package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Two TAP documents in one output (as linux_cgroups_cpus prints), a skip,
// runtimetest's TAP nested in YAML (which must not count), a failure.
const twoDocs = `TAP version 13
ok 1 - first
not ok 2 - second fails
  ---
  {
    "stdout": "not ok 1 - nested, not counted\nok 2 - nested"
  }
  ...
ok 3 # skip no such controller
1..3
TAP version 13
ok 1 - third
1..1
`

func TestParseTAP(t *testing.T) {
	res, err := parseTAP("prog", strings.NewReader(twoDocs))
	if err != nil {
		t.Fatal(err)
	}
	res.finish(0)
	if res.Pass != 2 || res.Fail != 1 || res.Skip != 1 {
		t.Fatalf("pass/fail/skip %d/%d/%d, want 2/1/1", res.Pass, res.Fail, res.Skip)
	}
	if f := res.Failures[0]; f.Num != 2 || f.Text != "second fails" {
		t.Errorf("failure %+v, want #2 'second fails'", f)
	}
	if !res.passNum["4"] || !res.passedTexts["third"] {
		t.Errorf("the second document's point is not the 4th point: %v", res.passNum)
	}
}

func TestProgramLevelFailures(t *testing.T) {
	for _, tc := range []struct {
		name, tap string
		exit      int
		want      string
	}{
		{"clean", "ok 1 - a\n1..1\n", 0, ""},
		{"skip all", "1..0 # SKIP not linux\n", 0, ""},
		{"no points", "TAP version 13\n1..0\n", 0, ""},
		{"timeout", "ok 1 - a\n", 124, textTimeout},
		{"crash", "ok 1 - a\n1..1\n", 2, "(exit status 2)"},
		{"no plan", "ok 1 - a\n", 0, textNoPlan},
		{"empty", "", 0, textNoPlan},
		{"short", "ok 1 - a\n1..2\n", 0, "(planned 2, ran 1)"},
		{"bail out", "ok 1 - a\nBail out! broken\n", 0, textBailOut},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := parseTAP("p", strings.NewReader(tc.tap))
			if err != nil {
				t.Fatal(err)
			}
			res.finish(tc.exit)
			var got string
			for _, f := range res.Failures {
				if f.Num == 0 {
					got = f.Text
				}
			}
			if got != tc.want {
				t.Errorf("program-level failure %q, want %q", got, tc.want)
			}
		})
	}
}

func TestExpectedAndReport(t *testing.T) {
	md := "# x\n\n| program | test point | reason |\n|---|---|---|\n" +
		"| prog | `#2` | by number |\n" +
		"| prog | `` `kill` a \\| b `` | by text with backquotes and a bar |\n" +
		"| other | `(exit status 1)` | crash |\n" +
		"| prog | `now passes` | fixed |\n"
	exp, err := parseExpected("E.md", strings.NewReader(md))
	if err != nil {
		t.Fatal(err)
	}
	if len(exp) != 4 || exp[1].Point != "`kill` a | b" {
		t.Fatalf("rows %+v", exp)
	}
	dir := t.TempDir()
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("prog.tap", "ok 1 - now passes\nnot ok 2 - x\nnot ok 3 - `kill` a | b\nnot ok 4 - new\n1..4\n")
	write("prog.rc", "0\n")
	write("other.tap", "")
	write("other.rc", "1\n")
	results, err := loadResults(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if n := report(&out, results, exp); n != 1 {
		t.Errorf("%d unexpected failures, want 1 (prog #4):\n%s", n, out.String())
	}
	for _, want := range []string{"UNEXPECTED prog: #4 new", "prog: now passes (EXPECTED.md line 8)", "1 passed, 4 failed, 0 skipped\n"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
	if _, err := parseExpected("E.md", strings.NewReader("| p | bare | r |\n")); err == nil {
		t.Error("a test point without backquotes was accepted")
	}
}
