package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/subpub/subpub/client"
	"github.com/subpub/subpub/internal/cli"
)

const pubExamples = `  # post a note as alice on the demo origin (a bare object is wrapped in Create)
  echo '{"type":"Note","content":"hello","to":["https://www.w3.org/ns/activitystreams#Public"]}' |
    subpub pub --cacert .data/demo/origin/tls/ca.pem --token alice-token https://localhost:8443/users/alice/outbox

  # from a file, in cleartext
  subpub pub --token alice-token http://localhost:8080/users/alice/outbox like.json
` + exitStatuses

// maxActivitySize bounds what pub reads from its input.
const maxActivitySize = 1 << 20

func runPub(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlagSet("subpub pub", "[flags] OUTBOX-URL [FILE|-]", pubExamples, stdout, stderr)
	var cf clientFlags
	cf.register(fs)
	// $SUBPUB_TOKEN sets it too (every flag has its variable), and the help
	// does not print its value.
	token := fs.String("token", "", "bearer `token` of the outbox's owner (or $SUBPUB_TOKEN, or --token-file)")
	tokenFile := fs.String("token-file", "", "read the bearer token from a `file`, so that it is not on the command line")
	positional, err := cli.ParseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if *token, err = bearerToken(*token, *tokenFile); err != nil {
		return err
	}
	opts, err := cf.optionsFor(positional, urlArguments{most: 2, missing: "missing the outbox URL to publish to", takes: "pub takes an outbox URL and a file"})
	if err != nil {
		return err
	}
	input := io.Reader(os.Stdin)
	if len(positional) == 2 && positional[1] != "-" {
		f, err := os.Open(positional[1])
		if err != nil {
			return err
		}
		defer f.Close()
		input = f
	}
	body, err := io.ReadAll(io.LimitReader(input, maxActivitySize+1))
	if err != nil {
		return fmt.Errorf("reading the activity: %w", err)
	}
	if len(body) > maxActivitySize {
		return errors.New("the activity is larger than 1 MiB")
	}
	c, err := client.New(opts)
	if err != nil {
		return err
	}
	defer c.Close()
	id, err := c.Publish(ctx, positional[0], *token, body)
	if err != nil {
		return failure(positional[0], err)
	}
	fmt.Fprintln(stdout, id)
	return nil
}
