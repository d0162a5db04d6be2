package client

import (
	"bytes"
	"context"
	"fmt"
	"net/http"

	"github.com/subpub/subpub/internal/redact"
)

// Publish POSTs an activity (or a bare object, which the server wraps in a
// Create) to an ActivityPub outbox with a bearer token and returns the id of
// the created activity (the response's Location).
func (c *Client) Publish(ctx context.Context, outboxURL, token string, activity []byte) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, outboxURL, bytes.NewReader(activity))
	if err != nil {
		return "", err
	}
	for k, v := range c.opts.Header {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", `application/ld+json; profile="https://www.w3.org/ns/activitystreams"`)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.RoundTrip(req)
	if err != nil {
		return "", fmt.Errorf("publishing to %s: %w", redact.String(outboxURL), err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		return "", fmt.Errorf("publishing to %s: %w", redact.String(outboxURL), statusError(resp.StatusCode, resp.Header, resp.Body))
	}
	location := resp.Header.Get("Location")
	if location == "" {
		return "", fmt.Errorf("publishing to %s: 201 Created without Location", redact.String(outboxURL))
	}
	return location, nil
}
