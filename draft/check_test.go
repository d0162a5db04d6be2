package draft_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/subpub/subpub/internal/testkit"
)

// A draft and its XML that check.rb passes; each case of TestCheckFindsEachProblem
// breaks one thing in them.
const (
	checkedMD = "# Intro\n\n~~~ http-example\nGET /x HTTP/1.1\nHost: example.com\n\nHTTP/1.1 200 OK\nContent-Type: application/json\nContent-Length: 3\n\n{}\n~~~\n{: #example-one}\n"

	checkedXML = `<?xml version="1.0" encoding="utf-8"?>
<rfc><front><title>t</title></front><middle>
<section anchor="intro"><name>Intro</name><t>See <xref target="RFC9110"/> and <xref target="intro"/>.</t>
<artwork>a short line</artwork></section>
</middle><back><references><reference anchor="RFC9110"><front><title>HTTP Semantics</title></front></reference></references></back></rfc>
`
)

// TestCheckFindsEachProblem runs check.rb, the lint `make draft` fails on,
// on a draft it passes (the control) and on copies of it each broken in
// one of the ways it looks for, and wants each reported.
func TestCheckFindsEachProblem(t *testing.T) {
	ruby, err := exec.LookPath("ruby")
	if err != nil {
		testkit.ToolMissing(t, "ruby is not on PATH (apt-get install ruby-kramdown-rfc2629)")
	}
	for _, c := range []struct {
		name     string
		md, xml  [2]string // replace [0] with [1]; empty: unchanged
		reported string    // empty: passes
	}{
		{name: "a draft with no problem passes (control)"},
		{name: "an anchor defined twice", xml: [2]string{`<artwork>`, `<section anchor="intro"><name>Again</name></section><artwork>`}, reported: `anchor "intro" is defined more than once`},
		{name: "a cross-reference without a target", xml: [2]string{`<xref target="intro"/>`, `<xref target="nowhere"/>`}, reported: `xref to unknown anchor "nowhere"`},
		{name: "a reference never cited", xml: [2]string{`<xref target="RFC9110"/>`, `RFC 9110`}, reported: "reference RFC9110 is never cited"},
		{name: "an unresolved reference", xml: [2]string{`HTTP Semantics`, `BROKEN REFERENCE`}, reported: "unresolved reference placeholder"},
		{name: "an unconverted cross-reference", xml: [2]string{`See `, `See {{intro}} `}, reported: "unconverted {{...}} cross-reference"},
		{name: "a character that is not ASCII", xml: [2]string{`a short line`, "a short lin\u00e9"}, reported: "non-ASCII character"},
		{name: "a figure line too long", xml: [2]string{`a short line`, strings.Repeat("x", 70)}, reported: "figure line longer than 69 characters"},
		{name: "no example", md: [2]string{"http-example", "http"}, reported: "no http-example blocks"},
		{name: "an example without a name", md: [2]string{"{: #example-one}", "{: #one}"}, reported: "http-example block without an {: #example-...} IAL"},
		{name: "an example that is not a request", md: [2]string{"GET /x HTTP/1.1", "GET /x"}, reported: "does not begin with an HTTP/1.x request"},
		{name: "a request without Host", md: [2]string{"Host: example.com", "Accept: */*"}, reported: "request has no Host field"},
		{name: "a Content-Length that does not count the content", md: [2]string{"Content-Length: 3", "Content-Length: 4"}, reported: "Content-Length is 4 but the content shown is 3 bytes"},
		{name: "content that is not JSON", md: [2]string{"\n{}\n", "\n{]\n"}, reported: "is not JSON"},
		{name: "a malformed field line", md: [2]string{"Content-Type: application/json", "Content-Type application/json"}, reported: "malformed field line in the 200 response"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			md, xml := checkedMD, checkedXML
			if c.md[0] != "" {
				md = replaceOnce(t, md, c.md)
			}
			if c.xml[0] != "" {
				xml = replaceOnce(t, xml, c.xml)
			}
			mdPath, xmlPath := filepath.Join(dir, "d.md"), filepath.Join(dir, "d.xml")
			if err := os.WriteFile(mdPath, []byte(md), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(xmlPath, []byte(xml), 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(ruby, "check.rb", mdPath, xmlPath).CombinedOutput()
			switch {
			case c.reported == "" && err != nil:
				t.Fatalf("check.rb failed on a draft with no problem: %v\n%s", err, out)
			case c.reported != "" && err == nil:
				t.Fatalf("check.rb passed; want it to report %q\n%s", c.reported, out)
			case c.reported != "" && !strings.Contains(string(out), c.reported):
				t.Fatalf("check.rb said\n%s\nwant %q", out, c.reported)
			}
		})
	}
}

func replaceOnce(t *testing.T, s string, r [2]string) string {
	t.Helper()
	if strings.Count(s, r[0]) != 1 {
		t.Fatalf("%q is not in the input exactly once", r[0])
	}
	return strings.Replace(s, r[0], r[1], 1)
}
