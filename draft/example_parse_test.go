package draft_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"mime"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// draftFile is the Internet-Draft whose examples are replayed.
const draftFile = "draft-subpub-http-pubsub.md"

// An example is a fenced block with the info string http-example followed
// by an IAL naming it (README.md); this is the expression README.md gives.
var exampleBlock = regexp.MustCompile("(?ms)^~~~ http-example\n(.*?)^~~~\n\\{: #(example-[a-z0-9-]+)")

// exampleFence finds every http-example block however it is written, so
// that a block the expression above does not match (another fence, a
// missing or malformed IAL) is reported instead of silently not replayed.
var exampleFence = regexp.MustCompile("(?m)^(~~~+|```+)[ \t]*http-example[ \t]*$")

// example is one exchange of the draft: a request, and the steps a client
// observes in answer to it.
type example struct {
	anchor string
	// request is the request head as written: its lines, without line
	// ends.
	request []string
	steps   []step
	// complete tells whether the exchange ends with a final response: if
	// not, it shows a subscription still open.
	complete bool
}

// step is one thing a client observes: a response, interim or final (with
// its content unless it is an event stream), or one item of the content of
// a text/event-stream response, which arrive one by one as the responses
// to SUB do.
type step struct {
	resp    *http.Response
	content []byte
	item    *sseItem
}

func (s step) String() string {
	if s.item != nil {
		return "event-stream " + s.item.String()
	}
	return strconv.Itoa(s.resp.StatusCode)
}

// sseItem is an item of an event stream's content: a comment line, or the
// field lines of a block ended by an empty line (an event, or a retry).
type sseItem struct {
	comment bool
	fields  []sseField
}

type sseField struct{ name, value string }

func (it *sseItem) String() string {
	if it.comment {
		return "comment"
	}
	names := make([]string, len(it.fields))
	for i, f := range it.fields {
		names[i] = f.name
	}
	return "block (" + strings.Join(names, ", ") + ")"
}

// field returns the value of the first field named name.
func (it *sseItem) field(name string) (string, bool) {
	for _, f := range it.fields {
		if f.name == name {
			return f.value, true
		}
	}
	return "", false
}

// data is the event's data: its data fields joined with LF.
func (it *sseItem) data() string {
	var lines []string
	for _, f := range it.fields {
		if f.name == "data" {
			lines = append(lines, f.value)
		}
	}
	return strings.Join(lines, "\n")
}

// readExamples extracts every example from the markdown of the draft, in
// order.
func readExamples(path string) ([]*example, error) {
	md, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	blocks, err := findBlocks(md)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	var examples []*example
	for _, b := range blocks {
		ex, err := parseExample(b.anchor, b.text)
		if err != nil {
			return nil, err
		}
		examples = append(examples, ex)
	}
	return examples, nil
}

// readBlocks returns the text of every example of the draft, by anchor.
func readBlocks(path string) (map[string]string, error) {
	md, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	blocks, err := findBlocks(md)
	texts := map[string]string{}
	for _, b := range blocks {
		texts[b.anchor] = b.text
	}
	return texts, err
}

type block struct{ anchor, text string }

func findBlocks(md []byte) ([]block, error) {
	matches := exampleBlock.FindAllSubmatch(md, -1)
	if fences := len(exampleFence.FindAll(md, -1)); fences != len(matches) {
		return nil, fmt.Errorf("%d http-example blocks, of which %d are written as README.md says (~~~ fence, then {: #example-...})", fences, len(matches))
	}
	blocks := make([]block, len(matches))
	for i, m := range matches {
		blocks[i] = block{anchor: string(m[2]), text: string(m[1])}
	}
	return blocks, nil
}

// parseExample parses the text of an example as README.md describes it:
// header sections ended by an empty line, whose line ends stand for CRLF;
// the content of the final response, in which they are LF, to the end.
func parseExample(anchor, body string) (*example, error) {
	ex := &example{anchor: anchor}
	head, rest, ok := strings.Cut(body, "\n\n")
	if !ok {
		return nil, fmt.Errorf("%s: the request is not ended by an empty line", anchor)
	}
	ex.request = strings.Split(head, "\n")
	for rest != "" {
		head, rest, _ = strings.Cut(rest, "\n\n")
		status, err := statusOf(head)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", anchor, err)
		}
		var content string
		if status >= 200 {
			content, rest = rest, ""
			ex.complete = true
		}
		raw := strings.ReplaceAll(head, "\n", "\r\n") + "\r\n\r\n" + content
		steps, err := readSteps(bufio.NewReader(strings.NewReader(raw)))
		if err != nil {
			return nil, fmt.Errorf("%s: the %d response: %v", anchor, status, err)
		}
		ex.steps = append(ex.steps, steps...)
	}
	if len(ex.steps) == 0 {
		return nil, fmt.Errorf("%s: no response", anchor)
	}
	return ex, nil
}

func statusOf(head string) (int, error) {
	line, _, _ := strings.Cut(head, "\n")
	proto, rest, _ := strings.Cut(line, " ")
	code, _, _ := strings.Cut(rest, " ")
	status, err := strconv.Atoi(code)
	if !strings.HasPrefix(proto, "HTTP/") || err != nil {
		return 0, fmt.Errorf("%q is not a status line", line)
	}
	return status, nil
}

// readSteps reads the one response at the start of r, with the content of a
// final response: as steps of its own if it is an event stream.
func readSteps(r *bufio.Reader) ([]step, error) {
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		return nil, err
	}
	steps := []step{{resp: resp}}
	if !isEventStream(resp) {
		steps[0].content, err = io.ReadAll(resp.Body)
		return steps, err
	}
	items := bufio.NewReader(resp.Body)
	for {
		it, err := readSSEItem(items)
		if errors.Is(err, io.EOF) {
			return steps, nil
		}
		if err != nil {
			return nil, err
		}
		steps = append(steps, step{item: it})
	}
}

func isEventStream(resp *http.Response) bool {
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	return resp.StatusCode == http.StatusOK && mt == "text/event-stream"
}

// readSSEItem reads the next item of an event stream, following the line
// syntax of the HTML event stream format: a line beginning with a colon is
// a comment; "name: value" is a field, the one space after the colon not
// part of the value; an empty line ends a block. Lines end with LF or CRLF
// (the servers and the examples write LF; no one here writes a lone CR).
// It returns io.EOF at the end of the content, and io.ErrUnexpectedEOF if
// the content ends in the middle of a block.
func readSSEItem(r *bufio.Reader) (*sseItem, error) {
	it := &sseItem{}
	for {
		line, err := r.ReadString('\n')
		switch {
		case err == io.EOF && line == "" && len(it.fields) == 0:
			return nil, io.EOF
		case err == io.EOF:
			return nil, io.ErrUnexpectedEOF
		case err != nil:
			return nil, err
		}
		line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
		switch {
		case line == "" && len(it.fields) > 0:
			return it, nil
		case line == "":
		case line[0] == ':' && len(it.fields) == 0:
			return &sseItem{comment: true}, nil
		case line[0] == ':':
			// A comment inside a block changes nothing in it.
		default:
			name, value, _ := strings.Cut(line, ":")
			it.fields = append(it.fields, sseField{name, strings.TrimPrefix(value, " ")})
		}
	}
}

// requestLine returns the method, target and version of an example's
// request.
func (ex *example) requestLine() (method, target, proto string) {
	f := strings.Fields(ex.request[0])
	if len(f) != 3 {
		return "", "", ""
	}
	return f[0], f[1], f[2]
}

// requestField returns the value of a field of the example's request.
func (ex *example) requestField(name string) string {
	for _, l := range ex.request[1:] {
		if n, v, ok := strings.Cut(l, ":"); ok && strings.EqualFold(n, name) {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// rewrite is how an example's request is sent to a live server: its Host
// is the server's address, and the scenario may name another target and
// other field values (a token the server knows, an id it issued). A field
// the example does not have is added.
type rewrite struct {
	target string
	fields map[string]string
}

// wireRequest is the example's request as bytes on the wire, rewritten.
func (ex *example) wireRequest(host string, rw rewrite) []byte {
	method, target, proto := ex.requestLine()
	if rw.target != "" {
		target = rw.target
	}
	values := map[string]string{}
	for name, value := range rw.fields {
		values[http.CanonicalHeaderKey(name)] = value
	}
	values["Host"] = host
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s %s\r\n", method, target, proto)
	for _, l := range ex.request[1:] {
		name, value, _ := strings.Cut(l, ":")
		key := http.CanonicalHeaderKey(name)
		if v, ok := values[key]; ok {
			value = v
			delete(values, key)
		}
		fmt.Fprintf(&b, "%s: %s\r\n", name, strings.TrimSpace(value))
	}
	for _, name := range slices.Sorted(maps.Keys(values)) {
		fmt.Fprintf(&b, "%s: %s\r\n", name, values[name])
	}
	b.WriteString("\r\n")
	return b.Bytes()
}
