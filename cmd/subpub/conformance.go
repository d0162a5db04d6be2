package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/subpub/subpub/client"
	"github.com/subpub/subpub/conformance"
	"github.com/subpub/subpub/internal/cli"
)

const conformanceExamples = `  # subpub's origin: the suite publishes by posting Notes to alice's outbox
  subpub conformance --cacert .data/origin/tls/ca.pem --keepalive 15s \
    --publish-outbox https://localhost:8443/users/alice/outbox --token-file alice.token \
    https://localhost:8443/users/alice/outbox

  # any server: a command publishes ($SUBPUB_CONFORMANCE_SEQ, $SUBPUB_CONFORMANCE_SIZE)
  subpub conformance --publish-cmd './publish.sh' --json report.json https://example.test/stream

  # a proxy: point it at the scripted upstream the suite prints, then it runs
  subpub conformance --intermediary --upstream-listen 127.0.0.1:9999 http://localhost:9080

Each check is named after the draft section it tests (first-106/2) and
prints ✔ (pass), × (fail) or - (skip). The exit status is 0 when no MUST
failed, 1 when one did, 2 for a usage error.
`

func runConformance(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlagSet("subpub conformance", "[flags] URL", conformanceExamples, stdout, stderr)
	var cf clientFlags
	cf.register(fs)
	intermediary := fs.Bool("intermediary", false, "test a proxy at URL (its base URL) with a scripted upstream, instead of a server's stream")
	upstream := fs.String("upstream-listen", "127.0.0.1:0", "where the scripted upstream listens (--intermediary)")
	wait := fs.Duration("wait", conformance.DefaultWait, "how long to wait for the proxy to be pointed at the scripted upstream (--intermediary)")
	outbox := fs.String("publish-outbox", "", "publish by posting Notes to this ActivityPub outbox `URL` (subpub's origin)")
	token := fs.String("token", "", "bearer `token` for --publish-outbox (or $SUBPUB_TOKEN, or --token-file)")
	tokenFile := fs.String("token-file", "", "read the --publish-outbox token from a `file`")
	publishCmd := fs.String("publish-cmd", "", "publish by running this shell `command`, given $SUBPUB_CONFORMANCE_SEQ and $SUBPUB_CONFORMANCE_SIZE")
	publishURL := fs.String("publish-url", "", "publish by POSTing the payload (text/plain) to this `URL`")
	keepalive := fs.Duration("keepalive", conformance.DefaultKeepAlive, "the keepalive interval the server is configured with")
	timeout := fs.Duration("timeout", conformance.DefaultTimeout, "how long to wait for each thing the server should send")
	gapID := fs.String("gap-id", "", "a Last-Event-ID the server cannot replay from (default: one far past the newest decimal id)")
	missingURL := fs.String("missing-url", "", "a URL of the server without a stream, for the error checks")
	jsonFile := fs.String("json", "", "write the report as JSON to this `file`")
	verbose := fs.Bool("v", false, "print what every check saw, not only failures")
	positional, err := cli.ParseInterspersed(fs, args)
	if err != nil {
		return err
	}
	const takes = "conformance takes one URL: the stream to test, or with --intermediary the proxy's base URL"
	opts, err := cf.optionsFor(positional, urlArguments{most: 1, missing: takes, takes: takes})
	if err != nil {
		return err
	}
	target := positional[0]
	cfg := conformance.Config{
		URL: target, Header: opts.Header, CAFile: opts.CAFile, Insecure: opts.Insecure,
		KeepAlive: *keepalive, Timeout: *timeout, GapID: *gapID, MissingURL: *missingURL,
		Upstream: *upstream, Wait: *wait,
	}
	if opts.HTTP != "" {
		cfg.Versions = []string{opts.HTTP}
	}
	var report *conformance.Report
	if *intermediary {
		if *outbox != "" || *publishCmd != "" || *publishURL != "" {
			return cli.Usagef("--intermediary publishes on its own scripted upstream: no --publish-* flag")
		}
		cfg.Ready = func(_ context.Context, up string) (string, error) {
			fmt.Fprintf(stdout, "scripted upstream: %s\npoint the proxy at it; waiting up to %s for it to relay a subscription\n", up, *wait)
			return "", nil
		}
		report, err = conformance.RunIntermediary(ctx, cfg)
	} else {
		if *token, err = bearerToken(*token, *tokenFile); err != nil {
			return err
		}
		if cfg.Publisher, err = publisher(opts, *outbox, *token, *publishCmd, *publishURL); err != nil {
			return err
		}
		report, err = conformance.Run(ctx, cfg)
	}
	if err != nil {
		return err
	}
	report.WriteText(stdout, *verbose)
	if *jsonFile != "" {
		if err := writeReport(*jsonFile, report); err != nil {
			return err
		}
	}
	if n := report.Summary.MustFailures; n > 0 {
		return fmt.Errorf("%d MUST requirement(s) failed", n)
	}
	return nil
}

// publisher is the one way of publishing the flags name.
func publisher(opts client.Options, outbox, token, command, url string) (conformance.Publisher, error) {
	n := 0
	for _, set := range []string{outbox, command, url} {
		if set != "" {
			n++
		}
	}
	if n != 1 {
		return nil, cli.Usagef("give one way to make the server publish: --publish-outbox, --publish-cmd or --publish-url")
	}
	if outbox != "" && token == "" {
		return nil, cli.Usagef("--publish-outbox needs --token, --token-file or $SUBPUB_TOKEN")
	}
	if command != "" {
		return &conformance.CommandPublisher{Command: command}, nil
	}
	opts.HTTP = ""
	c, err := client.New(opts)
	if err != nil {
		return nil, err
	}
	if outbox != "" {
		return &conformance.OutboxPublisher{Client: c, Outbox: outbox, Token: token}, nil
	}
	return &conformance.URLPublisher{Client: c, URL: url}, nil
}

func writeReport(name string, report *conformance.Report) error {
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	if err := report.WriteJSON(f); err != nil {
		f.Close()
		return err
	}
	return errors.Join(f.Close())
}
