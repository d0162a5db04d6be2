// Package reportfile keeps a benchmark's report on disk as two files in one
// directory: report.json, the figures, which a later run can read to render
// the report again, and report.md, what they say.
package reportfile

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// The files' names in a report's directory.
const (
	JSONName     = "report.json"
	MarkdownName = "report.md"
)

// Write writes v as indented JSON and markdown into dir, creating it.
func Write(dir string, v any, markdown string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	js, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, JSONName), append(js, '\n'), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, MarkdownName), []byte(markdown), 0o644)
}

// Read decodes the report.json in dir into v.
func Read(dir string, v any) error {
	path := filepath.Join(dir, JSONName)
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}
