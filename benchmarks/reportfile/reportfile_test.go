package reportfile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type figures struct {
	Rounds int    `json:"rounds"`
	Mode   string `json:"mode"`
}

func TestWriteThenRead(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nested")
	if err := Write(dir, figures{Rounds: 3, Mode: "shared"}, "# Report\n"); err != nil {
		t.Fatal(err)
	}
	var got figures
	if err := Read(dir, &got); err != nil {
		t.Fatal(err)
	}
	if got != (figures{Rounds: 3, Mode: "shared"}) {
		t.Errorf("read back %+v", got)
	}
	md, err := os.ReadFile(filepath.Join(dir, MarkdownName))
	if err != nil || string(md) != "# Report\n" {
		t.Errorf("report.md: %q, %v", md, err)
	}
}

func TestReadNamesTheFileItCannotDecode(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, JSONName), []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	var got figures
	if err := Read(dir, &got); err == nil || !strings.Contains(err.Error(), JSONName) {
		t.Errorf("Read of a broken report.json: %v", err)
	}
	if err := Read(t.TempDir(), &got); !os.IsNotExist(err) {
		t.Errorf("Read of a directory without a report: %v, want not-exist", err)
	}
}
