package conformance

import (
	"context"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/url"

	"github.com/subpub/subpub/client"
	"github.com/subpub/subpub/wire"
)

// missingPath is the default path of Config.MissingURL: no server names a
// stream so.
const missingPath = "/subpub-conformance/no-such-stream"

// The checks of final responses (section "ending").

func (s *suiteRun) missingURL() string {
	if s.cfg.MissingURL != "" {
		return s.cfg.MissingURL
	}
	u := *s.base
	u.Path, u.RawPath, u.RawQuery = missingPath, "", ""
	return u.String()
}

// refusal subscribes to u and returns what the server answered: the
// interim responses and the final one. The body of the final response is
// read by problem.
func (s *suiteRun) refusal(ctx context.Context, u string) (*recording, []response, error) {
	r, err := s.follow(ctx, client.HTTPAuto, client.ModeSUB, u, "")
	if err != nil {
		return nil, nil, err
	}
	r.waitUntil(ctx, s.cfg.timeout(), isOpen)
	r.stop()
	responses, _, _, _ := r.snapshot()
	return r, responses, nil
}

func checkRefusalProblem(ctx context.Context, s *suiteRun) Result {
	u := s.missingURL()
	_, responses, err := s.refusal(ctx, u)
	if err != nil {
		return fail("%v", err)
	}
	if len(responses) == 0 {
		return fail("SUB %s: no response within %s", u, s.cfg.timeout())
	}
	if in := interims(responses); len(in) > 0 {
		return fail("SUB %s: interim response %d before the final response", u, in[0].Status)
	}
	final := responses[len(responses)-1]
	if final.Status < 400 {
		return skip("SUB %s answered %d: give a URL without a stream (--missing-url)", u, final.Status)
	}
	return s.problemDetail(ctx, u, final.Status)
}

// problemDetail asks for u again with SUB to read the body of its refusal,
// which the client keeps to itself, and checks that it is a problem detail.
func (s *suiteRun) problemDetail(ctx context.Context, u string, status int) Result {
	c, err := s.client(client.HTTPAuto, client.ModeSUB)
	if err != nil {
		return fail("%v", err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.timeout())
	defer cancel()
	req, err := s.newRequest(ctx, wire.MethodSUB, u)
	if err != nil {
		return fail("%v", err)
	}
	resp, err := c.RoundTrip(req)
	if err != nil {
		return fail("SUB %s: %v", u, err)
	}
	defer resp.Body.Close()
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if mt != "application/problem+json" {
		return fail("SUB %s: %d with Content-Type %q, not application/problem+json", u, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var problem map[string]any
	if err := json.NewDecoder(http.MaxBytesReader(nil, resp.Body, maxBody)).Decode(&problem); err != nil {
		return fail("SUB %s: the problem detail is not a JSON object: %v", u, err)
	}
	if st, ok := problem["status"].(float64); ok && int(st) != resp.StatusCode {
		return fail("SUB %s: %d, whose problem detail says status %v", u, resp.StatusCode, st)
	}
	return pass("SUB %s: %d with a problem detail %v", u, status, problem["detail"])
}

// checkEndWith204 needs a publisher that can make and end a stream.
func checkEndWith204(ctx context.Context, s *suiteRun) Result {
	ender, ok := s.cfg.Publisher.(StreamEnder)
	if !ok {
		return skip("the publisher cannot end a stream (the outbox publisher can, by deleting a Note)")
	}
	made, err := ender.NewStream(ctx)
	if err != nil {
		return fail("making a stream to end: %v", err)
	}
	u, err := s.atTarget(made)
	if err != nil {
		return fail("%v", err)
	}
	r, err := s.follow(ctx, client.HTTPAuto, client.ModeSUB, u, "")
	if err != nil {
		return fail("%v", err)
	}
	defer r.stop()
	if !r.waitUntil(ctx, s.cfg.timeout(), isOpen) {
		return fail("SUB %s: no acknowledgement within %s", u, s.cfg.timeout())
	}
	if err := ender.EndStream(ctx, made); err != nil {
		return fail("%v", err)
	}
	if !r.waitUntil(ctx, s.cfg.timeout(), func(r *recording) bool { return r.err != nil }) {
		return fail("SUB %s: the stream was ended but the subscription did not end within %s", u, s.cfg.timeout())
	}
	responses, _, _, _ := r.snapshot()
	final := responses[len(responses)-1]
	if final.Status != http.StatusNoContent {
		return fail("SUB %s: the stream was ended with %d, not 204", u, final.Status)
	}
	_, again, err := s.refusal(ctx, u)
	if err != nil {
		return fail("%v", err)
	}
	if len(again) == 0 || again[len(again)-1].Status < 400 || len(interims(again)) > 0 {
		return fail("SUB %s after its stream ended: %s, not a refusal", u, describe(again))
	}
	return pass("SUB %s ended with 204; subscribing again: %d", u, again[len(again)-1].Status)
}

// atTarget is the URL of made's path at the target's authority: a stream
// the publisher made is named by the server that made it (an origin behind
// the intermediary under test, say), and is subscribed to where the target
// is.
func (s *suiteRun) atTarget(made string) (string, error) {
	m, err := url.Parse(made)
	if err != nil {
		return "", fmt.Errorf("the publisher made the stream %q, not a URL: %w", made, err)
	}
	u := *s.base
	u.Path, u.RawPath, u.RawQuery = m.Path, m.RawPath, m.RawQuery
	return u.String(), nil
}

// describe names the statuses of responses.
func describe(responses []response) string {
	if len(responses) == 0 {
		return "no response"
	}
	out := ""
	for i, r := range responses {
		if i > 0 {
			out += ", "
		}
		out += fmt.Sprint(r.Status)
	}
	return out
}
