package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"time"
)

var logger struct {
	file  *os.File
	json  bool
	debug bool
}

// openLog sets up --log: engines read failures from this file.
func openLog(path, format string, debug bool) error {
	switch format {
	case "text":
	case "json":
		logger.json = true
	default:
		return fmt.Errorf("--log-format: want text or json, got %q", format)
	}
	logger.debug = debug
	if path == "" {
		return nil
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND|os.O_SYNC, 0o644)
	if err != nil {
		return fmt.Errorf("--log %s: %w", path, err)
	}
	logger.file = f
	return nil
}

func logLine(level, msg string) {
	if logger.file == nil {
		return
	}
	now := time.Now().Format(time.RFC3339Nano)
	var line []byte
	if logger.json {
		line, _ = json.Marshal(map[string]string{"level": level, "msg": msg, "time": now})
	} else {
		line = []byte("time=" + strconv.Quote(now) + " level=" + level + " msg=" + strconv.Quote(msg))
	}
	logger.file.Write(append(line, '\n'))
}

// logError reports a failed command: one line on stderr and in the log.
func logError(msg string) {
	fmt.Fprintln(os.Stderr, "husk: "+msg)
	logLine("error", msg)
}

func logWarn(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	fmt.Fprintln(os.Stderr, "husk: warning: "+msg)
	logLine("warning", msg)
}
