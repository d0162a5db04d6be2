package conformance

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"

	"github.com/subpub/subpub/client"
)

// Publisher makes the server under test publish an event on the stream the
// suite subscribes to. The suite does not know the server's application, so
// this is how a run is told; it then recognizes the events by what arrives on
// its subscriptions.
type Publisher interface {
	// Publish makes the server publish one event whose payload holds at
	// least size bytes (small when size is 0); seq numbers the events of a
	// run from 1.
	Publish(ctx context.Context, seq, size int) error
}

// TextPublisher is a Publisher that can also publish an event whose
// payload holds a text of the suite's choosing, for the check that a
// payload beyond ASCII arrives as the bytes it was written with. The
// payload may hold more than the text (an activity around a Note's
// content), but must hold its UTF-8 bytes as they are.
type TextPublisher interface {
	PublishText(ctx context.Context, text string) error
}

// StreamEnder is a Publisher that can also make a stream of its own and end
// it, for the checks of how a subscription ends (a 204).
type StreamEnder interface {
	// NewStream makes a resource whose stream can be ended and returns
	// its URL.
	NewStream(ctx context.Context) (string, error)
	// EndStream ends the stream of a resource NewStream made (for
	// instance, by deleting it).
	EndStream(ctx context.Context, url string) error
}

// maxCommandOutput bounds what is kept of a publishing command's output for
// an error message.
const maxCommandOutput = 4 << 10

// payload is the text of event seq, padded to size bytes, printable ASCII.
func payload(seq, size int) string {
	s := "subpub conformance event " + strconv.Itoa(seq)
	if n := size - len(s); n > 0 {
		s += " " + strings.Repeat("x", n-1)
	}
	return s
}

// OutboxPublisher publishes by posting a public Note to an ActivityPub
// outbox (subpub's origin), whose stream gets an event for it. It ends
// streams by deleting a Note it made.
type OutboxPublisher struct {
	Client *client.Client
	Outbox string
	Token  string
}

func (p *OutboxPublisher) Publish(ctx context.Context, seq, size int) error {
	_, err := p.note(ctx, payload(seq, size))
	return err
}

// PublishText posts a Note whose content is text.
func (p *OutboxPublisher) PublishText(ctx context.Context, text string) error {
	_, err := p.note(ctx, text)
	return err
}

func (p *OutboxPublisher) note(ctx context.Context, content string) (string, error) {
	note, _ := json.Marshal(map[string]any{
		"type":    "Note",
		"content": content,
		"to":      []string{"https://www.w3.org/ns/activitystreams#Public"},
	})
	id, err := p.Client.Publish(ctx, p.Outbox, p.Token, note)
	if err != nil {
		return "", fmt.Errorf("posting a Note to %s: %w", p.Outbox, err)
	}
	return id, nil
}

// NewStream posts a Note and returns the URL of the Note, whose stream ends
// when it is deleted.
func (p *OutboxPublisher) NewStream(ctx context.Context) (string, error) {
	activity, err := p.note(ctx, "subpub conformance: a Note to delete")
	if err != nil {
		return "", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, activity, nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Accept", "application/activity+json")
	req.Header.Set("Authorization", "Bearer "+p.Token)
	resp, err := p.Client.RoundTrip(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var created struct {
		Object json.RawMessage `json:"object"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&created); err != nil || resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("reading the activity %s: %s %v", activity, resp.Status, err)
	}
	var object struct {
		ID string `json:"id"`
	}
	if json.Unmarshal(created.Object, &object.ID) != nil {
		if err := json.Unmarshal(created.Object, &object); err != nil {
			return "", fmt.Errorf("the activity %s names no object: %w", activity, err)
		}
	}
	return object.ID, nil
}

// EndStream posts a Delete of the Note.
func (p *OutboxPublisher) EndStream(ctx context.Context, url string) error {
	del, _ := json.Marshal(map[string]any{"type": "Delete", "object": url})
	if _, err := p.Client.Publish(ctx, p.Outbox, p.Token, del); err != nil {
		return fmt.Errorf("deleting %s: %w", url, err)
	}
	return nil
}

// CommandPublisher publishes by running a shell command (sh -c), with
// $SUBPUB_CONFORMANCE_SEQ and $SUBPUB_CONFORMANCE_SIZE telling it which event
// and how large a payload; it must exit 0 once the event is published.
type CommandPublisher struct {
	Command string
}

func (p *CommandPublisher) Publish(ctx context.Context, seq, size int) error {
	cmd := exec.CommandContext(ctx, "sh", "-c", p.Command)
	cmd.Env = append(os.Environ(), "SUBPUB_CONFORMANCE_SEQ="+strconv.Itoa(seq), "SUBPUB_CONFORMANCE_SIZE="+strconv.Itoa(size))
	if out, err := cmd.CombinedOutput(); err != nil {
		out = bytes.TrimSpace(out)
		if len(out) > maxCommandOutput {
			out = out[len(out)-maxCommandOutput:]
		}
		return fmt.Errorf("publishing command %q: %v: %s", p.Command, err, out)
	}
	return nil
}

// URLPublisher publishes by POSTing the payload (text/plain) to a URL, which
// must answer 2xx once the event is published. A ScriptedServer takes such
// requests at /publish?stream=PATH.
type URLPublisher struct {
	Client *client.Client
	URL    string
}

func (p *URLPublisher) Publish(ctx context.Context, seq, size int) error {
	return p.PublishText(ctx, payload(seq, size))
}

// PublishText posts text, the payload of the event.
func (p *URLPublisher) PublishText(ctx context.Context, text string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.URL, bytes.NewBufferString(text))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "text/plain")
	resp, err := p.Client.RoundTrip(req)
	if err != nil {
		return fmt.Errorf("publishing at %s: %w", p.URL, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, maxCommandOutput))
		return fmt.Errorf("publishing at %s: %s %s", p.URL, resp.Status, bytes.TrimSpace(body))
	}
	return nil
}
