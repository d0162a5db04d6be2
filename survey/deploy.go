package survey

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/subpub/subpub/client"
	"github.com/subpub/subpub/host"
	"github.com/subpub/subpub/internal/launch"
)

// The users of the surveyed origin and the streams followed.
const (
	publisher      = "alice"
	publisherToken = "alice-token"
	sender         = "bob"
	senderToken    = "bob-token"
	// publicStream is alice's outbox: public, so that a shared
	// intermediary may serve it to anyone.
	publicStream = "/users/alice/outbox"
	// privateStream is alice's inbox, which only she may read.
	privateStream = "/users/alice/inbox"
	// publicDocument is what the second user of the leak check asks for.
	publicDocument = "/users/bob"
)

// Origin is the subpub origin the proxies are put in front of, and what
// they need to reach it and to serve TLS.
type Origin struct {
	process *launch.Process
	// Upstream is the origin's cleartext address (HTTP/1.1 and h2c with
	// prior knowledge), which every proxy forwards to.
	Upstream string
	// CertFile, KeyFile and CertKeyFile (both in one file, as HAProxy
	// wants them) are a certificate for 127.0.0.1 and localhost that the
	// proxies present over TLS; CAFile signed it.
	CertFile, KeyFile, CertKeyFile, CAFile string

	pub *client.Client
}

// StartOrigin runs a subpub origin (the binary internal/launch finds) with
// alice and bob, keeping its files under dir.
func StartOrigin(ctx context.Context, dir string) (*Origin, error) {
	p, err := launch.Start(ctx, "origin", launch.Options{},
		"--listen", "127.0.0.1:0", "--listen-plain", "127.0.0.1:0", "--data", filepath.Join(dir, "origin"),
		"--user", publisher+":"+publisherToken, "--user", sender+":"+senderToken, "--max-per-client", "-1")
	if err != nil {
		return nil, err
	}
	o := &Origin{process: p, Upstream: p.PlainAddr}
	certs := filepath.Join(dir, "certs")
	ca, err := host.LoadOrCreateLocalCA(certs)
	if err != nil {
		p.Kill()
		return nil, err
	}
	o.CAFile = ca.CAFile
	o.CertFile, o.KeyFile = filepath.Join(certs, "cert.pem"), filepath.Join(certs, "key.pem")
	o.CertKeyFile = filepath.Join(certs, "cert-key.pem")
	if err := concatenate(o.CertKeyFile, o.CertFile, o.KeyFile); err != nil {
		p.Kill()
		return nil, err
	}
	// Proxies running as an unprivileged user (Varnish, Traffic Server)
	// read the key too.
	for _, f := range []string{o.KeyFile, o.CertKeyFile} {
		if err := os.Chmod(f, 0o644); err != nil {
			p.Kill()
			return nil, err
		}
	}
	if err := os.Chmod(certs, 0o755); err != nil {
		p.Kill()
		return nil, err
	}
	if o.pub, err = client.New(client.Options{HTTP: client.HTTP11}); err != nil {
		p.Kill()
		return nil, err
	}
	return o, nil
}

// Close stops the origin.
func (o *Origin) Close() {
	o.pub.Close()
	o.process.Kill()
}

// actor is a local actor's id.
func (o *Origin) actor(name string) string { return o.process.BaseURL + "/users/" + name }

// publishPublic posts a public note by alice whose content is content.
func (o *Origin) publishPublic(ctx context.Context, content string) error {
	note := fmt.Sprintf(`{"type":"Note","content":%q,"to":["https://www.w3.org/ns/activitystreams#Public"]}`, content)
	_, err := o.pub.Publish(ctx, o.process.PlainURL(publicStream), publisherToken, []byte(note))
	return err
}

// publishPrivate posts a note from bob to alice alone, which reaches her
// inbox and no public stream.
func (o *Origin) publishPrivate(ctx context.Context, content string) error {
	note := fmt.Sprintf(`{"type":"Note","content":%q,"to":[%q]}`, content, o.actor(publisher))
	_, err := o.pub.Publish(ctx, o.process.PlainURL("/users/"+sender+"/outbox"), senderToken, []byte(note))
	return err
}

func concatenate(to string, from ...string) error {
	var all []byte
	for _, f := range from {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		all = append(all, b...)
	}
	return os.WriteFile(to, all, 0o600)
}
