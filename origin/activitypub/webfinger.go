package activitypub

import (
	"net/http"
	"strings"

	"github.com/subpub/subpub/wire"
)

// contentTypeJRD is the media type of a WebFinger answer (RFC 7033).
const contentTypeJRD = "application/jrd+json"

// serveWebfinger answers /.well-known/webfinger?resource=acct:NAME@HOST (or
// the actor's URL) with links to the local actor, so that clients can find
// an actor from its handle.
func (s *Server) serveWebfinger(w http.ResponseWriter, r *http.Request, format wire.Format) error {
	if err := onlyGet(r, format, webfingerPath); err != nil {
		return err
	}
	resource := r.URL.Query().Get("resource")
	if resource == "" {
		return wire.Errorf(http.StatusBadRequest, "resource: missing: give acct:NAME@%s", s.host)
	}
	name, ok := s.actorName(resource)
	if acct, isAcct := strings.CutPrefix(resource, "acct:"); isAcct {
		user, host, _ := strings.Cut(acct, "@")
		name, ok = user, strings.EqualFold(host, s.host) && validActorName(user)
	}
	if ok {
		exists, err := actorExists(r.Context(), s.Store.db, name)
		if err != nil {
			return err
		}
		ok = exists
	}
	if !ok {
		return wire.Errorf(http.StatusNotFound, "%s is not an actor on this server", resource)
	}
	id := s.actorID(name)
	body, err := marshalASCII(doc{
		"subject": "acct:" + name + "@" + s.host,
		"aliases": []any{id},
		"links": []any{doc{
			"rel":  "self",
			"type": contentTypeActivity,
			"href": id,
		}},
	})
	if err != nil {
		return err
	}
	w.Header().Set("Access-Control-Allow-Origin", "*")
	writeBody(w, contentTypeJRD, body)
	return nil
}
