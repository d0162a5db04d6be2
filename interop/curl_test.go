package interop

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dunglas/httpsfv"

	"github.com/subpub/subpub/internal/launch"
	"github.com/subpub/subpub/internal/testkit"
)

// shortEvents is how many PUBs curl and nghttp receive in the short-stream
// test: well within their limits (see
// TestInteropEachClientHoldsALongStreamUntilItsHeaderLimit).
const shortEvents = 20

// limitBound is how many notes the limits test posts at most: about 2.4 MB
// of PUB fields, eight times curl's largest limit.
const limitBound = 2000

// A command-line client: how to run it, and how to read its verbose output.
type cliClient struct {
	name       string
	binary     string
	debianPkg  string
	fromStderr bool
	argv       func(p *launch.Process, url string) []string
	parser     func() func(line string, s *stream)
	// unsupported, if set, says why this build of the client cannot run
	// the row ("" when it can).
	unsupported func() string
}

func curlClient(flag string, tls bool) cliClient {
	return cliClient{
		name:       "curl " + flag,
		binary:     "curl",
		debianPkg:  "curl",
		fromStderr: true,
		argv: func(p *launch.Process, url string) []string {
			argv := []string{"curl", "--silent", "--show-error", "--verbose", "--no-buffer", flag, "-X", "SUB"}
			if tls {
				argv = append(argv, "--cacert", p.CAFile)
			}
			return append(argv, url)
		},
		parser: curlParser,
		unsupported: func() string {
			if flag != "--http3" {
				return ""
			}
			return curlWithoutHTTP3()
		},
	}
}

func nghttpClient() cliClient {
	return cliClient{
		name:      "nghttp",
		binary:    "nghttp",
		debianPkg: "nghttp2-client",
		argv: func(p *launch.Process, url string) []string {
			return []string{"nghttp", "--verbose", "--null-out", "--header", ":method: SUB", url}
		},
		parser: nghttpParser,
	}
}

// unsupportedBy says why this build of the client cannot run a row, or "".
func (c cliClient) unsupportedBy() string {
	if c.unsupported == nil {
		return ""
	}
	return c.unsupported()
}

// curlWithoutHTTP3 says why this curl cannot speak HTTP/3, or "" if it can.
func curlWithoutHTTP3() string {
	out, err := exec.Command("curl", "--version").Output()
	if err != nil {
		return "" // the missing tool is reported when the row runs
	}
	version := strings.Fields(string(out))
	features := regexp.MustCompile(`(?m)^Features:(.*)$`).FindSubmatch(out)
	if features != nil && strings.Contains(" "+string(features[1])+" ", " HTTP3 ") {
		return ""
	}
	return fmt.Sprintf("this curl (%s %s) is built without HTTP/3 (its Features lack HTTP3), as Debian 12's is", version[0], version[1])
}

// cliRow is a row of the short-stream test with the client that runs it.
type cliRow struct {
	*row
	client cliClient
	tls    bool
}

// TestInteropCurlAndNghttpShowAShortStream subscribes with curl (HTTP/1.1
// and HTTP/2, over TLS and in cleartext; HTTP/3 when this curl has it) and
// nghttp, on the origin and on the edge, and reads the 106 and shortEvents
// PUBs from their verbose output, decoding each Event and Event-Data.
func TestInteropCurlAndNghttpShowAShortStream(t *testing.T) {
	var rows []cliRow
	for _, server := range []string{"origin", "edge"} {
		add := func(c cliClient, protocol string, tls bool) {
			rows = append(rows, cliRow{&row{Client: strings.Fields(c.name)[0], Server: server, Protocol: protocol, Want: shortEvents}, c, tls})
		}
		add(curlClient("--http1.1", true), "HTTP/1.1 (TLS)", true)
		add(curlClient("--http1.1", false), "HTTP/1.1 (cleartext)", false)
		add(curlClient("--http2", true), "HTTP/2 (TLS)", true)
		add(curlClient("--http2-prior-knowledge", false), "h2c (cleartext, prior knowledge)", false)
		add(curlClient("--http3", true), "HTTP/3", true)
		add(nghttpClient(), "HTTP/2 (TLS)", true)
		add(nghttpClient(), "h2c (cleartext, prior knowledge)", false)
	}
	all := make([]*row, len(rows))
	for i, r := range rows {
		all[i] = r.row
	}
	plan(t, all...)
	s := startServers(t, true)

	streams := make([]*stream, len(rows))
	skipped := make([]string, len(rows))
	for i, r := range rows {
		if why := r.client.unsupportedBy(); why != "" {
			skipped[i] = why
			continue
		}
		if _, err := exec.LookPath(r.client.binary); err != nil {
			skipped[i] = fmt.Sprintf("%s not found on PATH: apt-get install %s", r.client.binary, r.client.debianPkg)
			continue
		}
		p := s.server(r.Server)
		url := p.PlainURL(outboxPath)
		if r.tls {
			url = p.URL(outboxPath)
		}
		label := r.client.name + " on the " + r.Server + " over " + r.Protocol
		proc := startProc(t, label, t.TempDir(), r.client.fromStderr, r.client.argv(p, url)...)
		streams[i] = newStream(label)
		streams[i].follow(proc, r.client.parser())
	}
	for _, st := range streams {
		if st != nil {
			st.waitAck(t)
		}
	}
	want := s.publishNotes(t, shortEvents, nil)
	deadline := time.Now().Add(deliveryTimeout)
	for i, r := range rows {
		r.run(t, func(t *testing.T) {
			if skipped[i] != "" {
				r.note("%s", skipped[i])
				if r.client.unsupportedBy() != "" {
					t.Skip(skipped[i]) // a property of the installed build, not a missing tool
				}
				testkit.ToolMissing(t, skipped[i])
			}
			events := streams[i].waitEvents(shortEvents, deadline)
			r.Got = checkOrder(t, streams[i].label, events, want)
			if _, ended, why := streams[i].snapshot(); ended && r.Got < shortEvents {
				r.note("stopped: %s", why)
			}
			if r.Got == shortEvents {
				r.note("%s --verbose shows the 106 and each 105 with its Event and Event-Data", r.client.name)
				if r.Client == "nghttp" && r.tls {
					r.note("nghttp does not verify the server's certificate")
				}
			}
		})
	}
}

// TestInteropEachClientHoldsALongStreamUntilItsHeaderLimit holds one
// subscription per client open on the origin while notes are posted, until
// each client has stopped or limitBound is reached, and records for the
// matrix where each stopped: curl and nghttp bound the header bytes of a
// whole request, interim responses included; Node does not.
func TestInteropEachClientHoldsALongStreamUntilItsHeaderLimit(t *testing.T) {
	type subject struct {
		client, protocol string
		argv             []string
		fromStderr       bool
		parse            func(string, *stream)
		stream           *stream
	}
	s := startServers(t, false)
	url := s.origin.URL(outboxPath)
	cli := func(c cliClient, protocol string) *subject {
		return &subject{client: c.binary, protocol: protocol, argv: c.argv(s.origin, url), fromStderr: c.fromStderr, parse: c.parser()}
	}
	node := func(client, protocol, httpVersion string) *subject {
		return &subject{client: client, protocol: protocol, parse: parseNodeLine,
			argv: []string{"node", "subscribe.mjs", "--http", httpVersion, "--ca", s.origin.CAFile, "--count", strconv.Itoa(limitBound), url}}
	}
	subjects := []*subject{
		cli(curlClient("--http1.1", true), "HTTP/1.1 (TLS)"),
		cli(curlClient("--http2", true), "HTTP/2 (TLS)"),
		cli(nghttpClient(), "HTTP/2 (TLS)"),
		node("Node http", "HTTP/1.1 (TLS)", "1.1"),
		node("Node http2", "HTTP/2 (TLS)", "2"),
	}
	for _, sub := range subjects {
		needTool(t, sub.argv[0], map[string]string{"curl": "curl", "nghttp": "nghttp2-client", "node": "nodejs"}[sub.argv[0]])
	}
	for _, sub := range subjects {
		label := sub.client + " " + sub.protocol
		proc := startProc(t, label, scriptDir(t), sub.fromStderr, sub.argv...)
		sub.stream = newStream(label)
		sub.stream.follow(proc, sub.parse)
	}
	for _, sub := range subjects {
		sub.stream.waitAck(t)
	}
	allEnded := func() bool {
		for _, sub := range subjects {
			if _, ended, _ := sub.stream.snapshot(); !ended {
				return false
			}
		}
		return true
	}
	want := s.publishNotes(t, limitBound, allEnded)
	deadline := time.Now().Add(deliveryTimeout)
	for _, sub := range subjects {
		events := sub.stream.waitEvents(len(want), deadline)
		got := checkOrder(t, sub.stream.label, events[:min(len(events), len(want))], want[:min(len(events), len(want))])
		bytes := sub.stream.bytes()
		_, ended, why := sub.stream.snapshot()
		stopped := fmt.Sprintf("did not stop: every one of the %d PUBs posted arrived (the test's bound)", len(want))
		switch {
		case got >= limitBound:
		case ended:
			stopped = why
		default:
			stopped = fmt.Sprintf("still running, but only %d of %d PUBs arrived within %v", got, len(want), deliveryTimeout)
			t.Errorf("%s: %s", sub.stream.label, stopped)
		}
		if known := knownLimit(sub.client, stopped, bytes); known != "" {
			stopped += " — " + known
		}
		results.addLimit(limit{Client: sub.client, Protocol: sub.protocol, Events: got, Bytes: bytes, Stopped: stopped})
		t.Logf("%s: %d PUBs, %d header bytes; %s", sub.stream.label, got, bytes, stopped)
	}
}

// knownLimit explains how a client stopped when it matches a limit its
// source code sets, and the bytes counted agree with it to within one PUB
// (about 1.2 KB); "" otherwise.
func knownLimit(client, stopped string, bytes int) string {
	near := func(bound int) bool { return bytes > bound-1500 && bytes < bound+1500 }
	switch {
	case client == "curl" && strings.Contains(stopped, "Too large response headers") && near(300<<10):
		return "curl bounds the response header bytes of a transfer, interim responses included, to 300 KiB (MAX_HTTP_RESP_HEADER_SIZE)"
	case client == "curl" && strings.Contains(stopped, "returned -902") && near(128<<10):
		return "curl 7.88 keeps an HTTP/2 stream's response header lines, interim responses included, in one buffer of at most 128 KiB (DYN_H2_HEADERS); the next PUB overflowed it"
	case client == "nghttp" && strings.Contains(stopped, "RST_STREAM") && near(64<<10):
		return "nghttp resets a request whose response fields, interim ones included, pass 64 KiB of names and values"
	}
	return ""
}

// curlParser reads curl --verbose: "< " lines are the received header
// sections, a status line opening each; curl shows no empty line after an
// interim response, so a PUB is complete once it has Event-Data.
func curlParser() func(line string, s *stream) {
	var b *pubBlock
	return func(line string, s *stream) {
		line = strings.TrimRight(line, "\r")
		switch {
		case strings.HasPrefix(line, "< HTTP/"):
			f := strings.Fields(line)
			status, _ := strconv.Atoi(f[2])
			b = &pubBlock{status: status, bytes: len(line)} // "< " shown, CRLF received
			s.addBytes(len(line))
			b.opened(s)
		case strings.HasPrefix(line, "< ") && b != nil:
			name, value, _ := strings.Cut(line[2:], ":")
			b.bytes += len(line)
			s.addBytes(len(line))
			b.field(s, name, strings.TrimSpace(value))
		case strings.HasPrefix(line, "curl: ("):
			s.end(line)
		}
	}
}

// nghttpParser reads nghttp --verbose: each received field on its own
// "recv (stream_id=N) name: value" line, then "recv HEADERS frame"; a
// frame's details follow on indented lines. Header bytes are counted as
// nghttp counts them: name and value of each field.
func nghttpParser() func(line string, s *stream) {
	var b *pubBlock
	var resetBy string // the RST_STREAM or GOAWAY frame whose details follow
	fieldLine := regexp.MustCompile(`recv \(stream_id=\d+\) (:?[^:]+): (.*)$`)
	return func(line string, s *stream) {
		if m := fieldLine.FindStringSubmatch(line); m != nil {
			name, value := m[1], m[2]
			if name == ":status" {
				status, _ := strconv.Atoi(value)
				b = &pubBlock{status: status}
				b.opened(s)
			}
			s.addBytes(len(name) + len(value))
			if b != nil {
				b.bytes += len(name) + len(value)
				b.field(s, name, value)
			}
			return
		}
		line = strings.TrimSpace(line)
		switch {
		case resetBy != "" && strings.HasPrefix(line, "(error_code="):
			s.end(resetBy + " " + line)
			resetBy = ""
		case strings.Contains(line, "RST_STREAM frame"), strings.Contains(line, "GOAWAY frame"):
			_, frame, _ := strings.Cut(line, "] ")
			frame, _, _ = strings.Cut(frame, " <")
			resetBy = "nghttp: " + frame
		case strings.Contains(line, "[ERROR]"), strings.HasPrefix(line, "Some requests were not processed"):
			s.end("nghttp: " + line)
		}
	}
}

// pubBlock is one interim response as a command-line client shows it.
type pubBlock struct {
	status int
	bytes  int
	fields map[string]string
	done   bool
}

func (b *pubBlock) opened(s *stream) {
	b.fields = map[string]string{}
	switch b.status {
	case 106:
		s.ack()
	case 105:
	default:
		if b.status >= 200 {
			s.end(fmt.Sprintf("final response %d", b.status))
		}
	}
}

// field adds a field; once a PUB has its Event and Event-Data (or a ref),
// the event is decoded and added to s.
func (b *pubBlock) field(s *stream, name, value string) {
	name = strings.ToLower(name)
	if b.status != 105 || b.done || strings.HasPrefix(name, ":") {
		return
	}
	b.fields[name] = value
	_, hasData := b.fields["event-data"]
	raw, hasEvent := b.fields["event"]
	if !hasEvent || (!hasData && !strings.Contains(raw, "ref=")) {
		return
	}
	b.done = true
	e, err := decodePUB(raw, b.fields["event-data"])
	if err != nil {
		s.end(err.Error())
		return
	}
	e.FieldBytes = b.bytes
	s.add(e)
}

// decodePUB decodes the Event and Event-Data fields as a command-line
// client displayed them.
func decodePUB(eventField, dataField string) (event, error) {
	dict, err := httpsfv.UnmarshalDictionary([]string{eventField})
	if err != nil {
		return event{}, fmt.Errorf("malformed Event %q: %v", eventField, err)
	}
	var e event
	if m, ok := dict.Get("id"); ok {
		if item, ok := m.(httpsfv.Item); ok {
			e.ID, _ = item.Value.(string)
		}
	}
	if m, ok := dict.Get("type"); ok {
		if item, ok := m.(httpsfv.Item); ok {
			switch v := item.Value.(type) {
			case httpsfv.Token:
				e.Type = string(v)
			case string:
				e.Type = v
			}
		}
	}
	if dataField == "" {
		return e, nil
	}
	item, err := httpsfv.UnmarshalItem([]string{dataField})
	if err != nil {
		return event{}, fmt.Errorf("malformed Event-Data of event %s: %v", e.ID, err)
	}
	var data []byte
	switch v := item.Value.(type) {
	case string:
		data = []byte(v)
	case []byte:
		data = v
	default:
		return event{}, fmt.Errorf("Event-Data of event %s is neither an sf-string nor an sf-binary", e.ID)
	}
	var doc struct {
		Type   string
		Object struct {
			Object struct{ Content string }
		}
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return event{}, fmt.Errorf("Event-Data of event %s is not JSON: %v", e.ID, err)
	}
	if doc.Type != e.Type {
		return event{}, fmt.Errorf("event %s: type %s, but its data is a %s", e.ID, e.Type, doc.Type)
	}
	e.Content = doc.Object.Object.Content
	return e, nil
}
