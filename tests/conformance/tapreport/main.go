// Command tapreport summarizes one run of the OCI runtime-tools validation
// programs and compares its failures with the expected ones.
//
// Usage: tapreport -results DIR -expected EXPECTED.md
//
// DIR holds, for each program NAME, NAME.tap (its standard output), NAME.rc
// (its exit status; 124 or 137 mean the per-program timeout killed it) and
// optionally NAME.secs (its run time in seconds). A test point is counted as
// passed ("ok"), failed ("not ok") or skipped ("# SKIP" directive, never a
// pass). A program that crashed, timed out, printed no plan or ran a
// different number of test points than planned adds one failure of its own.
//
// It prints a table per program, each failure marked expected or
// UNEXPECTED, the expected failures that passed, and a closing line
// "N passed, N failed, N skipped"; it exits 1 on an unexpected failure.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// failure is one failed test point, or a program-level failure (Num 0).
type failure struct {
	Program string
	Num     int
	Text    string
}

// result is what one program did.
type result struct {
	Program          string
	Pass, Fail, Skip int
	Failures         []failure
	Secs             string
	streams          []stream
	bailed           bool
	exit             int
	passedTexts      map[string]bool
	passNum          map[string]bool
}

// stream is one TAP document: a program that runs several groups of tests
// prints one "TAP version" header and one plan for each.
type stream struct {
	hasPlan, skipAll bool
	planned, seen    int
}

var (
	planRe  = regexp.MustCompile(`^1\.\.(\d+)(.*)$`)
	pointRe = regexp.MustCompile(`^(not )?ok\b\s*(\d+)?\s*(.*)$`)
	skipRe  = regexp.MustCompile(`(?i)(^|\s)#\s*skip\b`)
)

// Program-level failures: their Text is what EXPECTED.md names.
const (
	textTimeout  = "(timed out)"
	textNoPlan   = "(no plan)"
	textBailOut  = "(bail out)"
	textExitCode = "(exit status %d)"
	textPlanMiss = "(planned %d, ran %d)"
)

// parseTAP reads a program's TAP output. Only lines at column 0 count: a
// program that runs runtimetest under its own TAP nests that output in an
// indented YAML block. Test points are numbered in order over all the
// program's TAP documents, so "#N" in EXPECTED.md is the N-th point.
func parseTAP(program string, r io.Reader) (*result, error) {
	res := &result{Program: program, passedTexts: map[string]bool{}, passNum: map[string]bool{}}
	cur := func() *stream {
		if len(res.streams) == 0 {
			res.streams = append(res.streams, stream{})
		}
		return &res.streams[len(res.streams)-1]
	}
	num := 0
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		if strings.HasPrefix(line, "TAP version ") {
			res.streams = append(res.streams, stream{})
			continue
		}
		if m := planRe.FindStringSubmatch(line); m != nil {
			n, err := strconv.Atoi(m[1])
			if err != nil {
				return nil, fmt.Errorf("%s: plan %q: %w", program, line, err)
			}
			st := cur()
			st.hasPlan, st.planned = true, n
			st.skipAll = n == 0 && skipRe.MatchString(m[2])
			continue
		}
		if strings.HasPrefix(line, "Bail out!") {
			res.bailed = true
			continue
		}
		m := pointRe.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		cur().seen++
		num++
		text, skipped := pointText(m[3])
		switch {
		case skipped:
			res.Skip++
		case m[1] == "":
			res.Pass++
			res.passedTexts[text] = true
			res.passNum[strconv.Itoa(num)] = true
		default:
			res.Fail++
			res.Failures = append(res.Failures, failure{program, num, text})
		}
	}
	return res, sc.Err()
}

// pointText splits "- description # SKIP reason" into the description and
// whether the point carries a SKIP directive.
func pointText(rest string) (string, bool) {
	rest = strings.TrimPrefix(strings.TrimSpace(rest), "- ")
	if loc := skipRe.FindStringIndex(rest); loc != nil {
		return strings.TrimSpace(rest[:loc[0]]), true
	}
	return strings.TrimSpace(rest), false
}

// finish adds one program-level failure for the first of: a timeout, a
// non-zero exit status, a bail out, a TAP document without a plan or with
// a plan its points do not match.
func (res *result) finish(exit int) {
	res.exit = exit
	text := res.problem()
	if text == "" {
		return
	}
	res.Fail++
	res.Failures = append(res.Failures, failure{Program: res.Program, Text: text})
}

// problem is the text of the program-level failure, "" for a clean run.
func (res *result) problem() string {
	switch {
	case res.exit == 124 || res.exit == 137:
		return textTimeout
	case res.exit != 0:
		return fmt.Sprintf(textExitCode, res.exit)
	case res.bailed:
		return textBailOut
	case len(res.streams) == 0:
		return textNoPlan
	}
	for _, st := range res.streams {
		switch {
		case !st.hasPlan:
			return textNoPlan
		case !st.skipAll && st.planned != st.seen:
			return fmt.Sprintf(textPlanMiss, st.planned, st.seen)
		}
	}
	return ""
}

// note flags a program that ran no test point at all: TAP counts its
// "1..0" as a pass, but it tested nothing (see its YAML diagnostics).
func (res *result) note() string {
	if res.Pass+res.Fail+res.Skip == 0 {
		return "no test points"
	}
	return ""
}

// expectation is one row of EXPECTED.md.
type expectation struct {
	Program, Point, Reason string
	line                   int
	used                   bool
}

// matches tells whether the row names this failure: "#N" names a test
// point number, anything else the test point text exactly.
func (e *expectation) matches(f failure) bool {
	if e.Program != f.Program {
		return false
	}
	if n, ok := strings.CutPrefix(e.Point, "#"); ok && f.Num > 0 {
		return n == strconv.Itoa(f.Num)
	}
	return e.Point == f.Text
}

// parseExpected reads the rows "| program | `test point` | reason |" of the
// tables in EXPECTED.md; the header and separator rows are skipped.
func parseExpected(path string, r io.Reader) ([]*expectation, error) {
	var out []*expectation
	sc := bufio.NewScanner(r)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(line, "|") {
			continue
		}
		cells := splitRow(line)
		if len(cells) != 3 {
			return nil, fmt.Errorf("%s:%d: a row needs 3 cells (program, test point, reason), has %d", path, n, len(cells))
		}
		prog := strings.Trim(cells[0], "` ")
		if prog == "program" || strings.Trim(prog, "-: ") == "" {
			continue
		}
		point, ok := codeSpan(strings.TrimSpace(cells[1]))
		if !ok {
			return nil, fmt.Errorf("%s:%d: test point %q must be in backquotes", path, n, cells[1])
		}
		if strings.TrimSpace(cells[2]) == "" {
			return nil, fmt.Errorf("%s:%d: %s %q has no reason", path, n, prog, point)
		}
		out = append(out, &expectation{Program: prog, Point: point, Reason: strings.TrimSpace(cells[2]), line: n})
	}
	return out, sc.Err()
}

// codeSpan is the text of a markdown code span: `text`, or “text“
// for a text with backquotes of its own.
func codeSpan(cell string) (string, bool) {
	if inner, ok := strings.CutPrefix(cell, "``"); ok {
		inner, ok = strings.CutSuffix(inner, "``")
		return strings.TrimSpace(inner), ok && strings.TrimSpace(inner) != ""
	}
	if len(cell) < 3 || cell[0] != '`' || cell[len(cell)-1] != '`' {
		return "", false
	}
	return cell[1 : len(cell)-1], true
}

// splitRow splits a markdown table row on the '|' not escaped as "\|".
func splitRow(line string) []string {
	line = strings.TrimSuffix(strings.TrimPrefix(line, "|"), "|")
	var cells []string
	var cur strings.Builder
	for i := 0; i < len(line); i++ {
		switch {
		case line[i] == '\\' && i+1 < len(line) && line[i+1] == '|':
			cur.WriteByte('|')
			i++
		case line[i] == '|':
			cells = append(cells, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(line[i])
		}
	}
	return append(cells, cur.String())
}

// loadResults reads every NAME.tap in dir with its NAME.rc and NAME.secs.
func loadResults(dir string) ([]*result, error) {
	taps, err := filepath.Glob(filepath.Join(dir, "*.tap"))
	if err != nil {
		return nil, err
	}
	sort.Strings(taps)
	var out []*result
	for _, tap := range taps {
		name := strings.TrimSuffix(filepath.Base(tap), ".tap")
		f, err := os.Open(tap)
		if err != nil {
			return nil, err
		}
		res, err := parseTAP(name, f)
		f.Close()
		if err != nil {
			return nil, err
		}
		rcText, err := os.ReadFile(filepath.Join(dir, name+".rc"))
		if err != nil {
			return nil, fmt.Errorf("%s: exit status: %w", name, err)
		}
		rc, err := strconv.Atoi(strings.TrimSpace(string(rcText)))
		if err != nil {
			return nil, fmt.Errorf("%s: %q is no exit status", filepath.Join(dir, name+".rc"), rcText)
		}
		if secs, err := os.ReadFile(filepath.Join(dir, name+".secs")); err == nil {
			res.Secs = strings.TrimSpace(string(secs))
		}
		res.finish(rc)
		out = append(out, res)
	}
	return out, nil
}

// report prints the tables and the closing line; it returns the number of
// unexpected failures.
func report(w io.Writer, results []*result, exp []*expectation) int {
	fmt.Fprintf(w, "%-36s %5s %5s %5s %6s\n", "program", "pass", "fail", "skip", "secs")
	var pass, fail, skip, unexpected int
	var lines []string
	for _, res := range results {
		row := fmt.Sprintf("%-36s %5d %5d %5d %6s  %s", res.Program, res.Pass, res.Fail, res.Skip, res.Secs, res.note())
		fmt.Fprintln(w, strings.TrimRight(row, " "))
		pass += res.Pass
		fail += res.Fail
		skip += res.Skip
		for _, f := range res.Failures {
			var hit *expectation
			for _, e := range exp {
				if e.matches(f) {
					hit = e
					break
				}
			}
			point := f.Text
			if f.Num > 0 {
				point = fmt.Sprintf("#%d %s", f.Num, f.Text)
			}
			if hit == nil {
				unexpected++
				lines = append(lines, fmt.Sprintf("UNEXPECTED %s: %s", f.Program, point))
				continue
			}
			hit.used = true
			lines = append(lines, fmt.Sprintf("expected   %s: %s (%s)", f.Program, point, short(hit.Reason)))
		}
	}
	if len(lines) > 0 {
		fmt.Fprintln(w, "\nfailures:")
		for _, l := range lines {
			fmt.Fprintln(w, "  "+l)
		}
	}
	ran := map[string]*result{}
	for _, res := range results {
		ran[res.Program] = res
	}
	var fixed []string
	for _, e := range exp {
		if res := ran[e.Program]; res != nil && !e.used && res.passed(e.Point) {
			fixed = append(fixed, fmt.Sprintf("  %s: %s (EXPECTED.md line %d)", e.Program, e.Point, e.line))
		}
	}
	if len(fixed) > 0 {
		fmt.Fprintln(w, "\nexpected to fail but passed (update EXPECTED.md):")
		for _, l := range fixed {
			fmt.Fprintln(w, l)
		}
	}
	if unexpected > 0 {
		fmt.Fprintf(w, "\n%d unexpected failures (not in EXPECTED.md)\n", unexpected)
	}
	fmt.Fprintf(w, "%d passed, %d failed, %d skipped\n", pass, fail, skip)
	return unexpected
}

// short is the first sentence of a reason, cut to fit a line.
func short(reason string) string {
	if i := strings.Index(reason, ". "); i > 0 {
		reason = reason[:i]
	}
	reason = strings.TrimSuffix(reason, ".")
	if len(reason) > 100 {
		reason = reason[:97] + "..."
	}
	return reason
}

// passed tells whether the test point an expectation names passed in this
// run (a program-level row passes when the program ran cleanly).
func (res *result) passed(point string) bool {
	if n, ok := strings.CutPrefix(point, "#"); ok {
		return res.passNum[n]
	}
	if strings.HasPrefix(point, "(") {
		return res.problem() == ""
	}
	return res.passedTexts[point]
}

func main() {
	dir := flag.String("results", "", "directory with NAME.tap, NAME.rc and NAME.secs per program")
	expected := flag.String("expected", "", "EXPECTED.md listing the expected failures")
	flag.Parse()
	if *dir == "" || *expected == "" || flag.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "usage: tapreport -results DIR -expected EXPECTED.md")
		os.Exit(2)
	}
	f, err := os.Open(*expected)
	if err != nil {
		fatal(err)
	}
	exp, err := parseExpected(*expected, f)
	f.Close()
	if err != nil {
		fatal(err)
	}
	results, err := loadResults(*dir)
	if err != nil {
		fatal(err)
	}
	if len(results) == 0 {
		fatal(fmt.Errorf("no results in %s", *dir))
	}
	if report(os.Stdout, results, exp) > 0 {
		os.Exit(1)
	}
}

// fatal reports an error in the input (not a test failure) and exits 2.
func fatal(err error) {
	fmt.Fprintf(os.Stderr, "tapreport: %v\n", err)
	os.Exit(2)
}
