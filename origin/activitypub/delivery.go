package activitypub

import (
	"context"
	"errors"
	"slices"
)

// recipients is who an activity is delivered to.
type recipients struct {
	// public tells whether it is addressed to the Public collection, and so
	// readable by anyone.
	public bool
	// local names the local actors whose inboxes receive it, without its
	// sender: they may read it even if it is not public.
	local []string
}

func (r *recipients) add(name string) {
	if !slices.Contains(r.local, name) {
		r.local = append(r.local, name)
	}
}

// addressees resolves the ids an activity is addressed to (ActivityPub
// §7.1): the Public collection, local actors, and collections of the sender
// (its followers, say), which expand to the local actors among their items.
// The sender is left out. Remote ids are ignored: this server does not
// federate, so delivery is to local inboxes only.
func (s *Server) addressees(ctx context.Context, q querier, sender string, ids []string) (recipients, error) {
	var r recipients
	for _, id := range ids {
		if isPublicAddress(id) {
			r.public = true
			continue
		}
		res, err := s.lookup(ctx, q, id)
		if errors.Is(err, errNotFound) {
			continue
		}
		if err != nil {
			return r, err
		}
		switch {
		case res.kind == kindActor:
			r.add(res.owner)
		case res.kind.isCollection() && res.owner == sender && !res.deleted:
			items, err := itemIDs(ctx, q, res.id)
			if err != nil {
				return r, err
			}
			for _, item := range items {
				if name, ok := s.actorName(item); ok {
					r.add(name)
				}
			}
		}
	}
	r.local = slices.DeleteFunc(r.local, func(name string) bool { return name == sender })
	return r, nil
}

// addressTo makes sure an activity reaches local actor name, the one it is
// meant for (the followee of a Follow, the follower of an Accept), even if
// the client did not address it: it is added to "to" and to the recipients.
func (s *Server) addressTo(p *posting, name string) {
	id := s.actorID(name)
	if !slices.Contains(addresses(p.Doc), id) {
		p.Doc["to"] = toAnyList(append(idList(p.Doc["to"]), id))
	}
	if name != p.actor {
		p.rcpt.add(name)
	}
}

// deliver puts the posted activity in the inbox of each local recipient,
// each of which hears of it on its inbox stream.
func (s *Server) deliver(ctx context.Context, t *tx, p *posting) error {
	for _, name := range p.rcpt.local {
		if err := s.addItem(ctx, t, s.actorCollection(name, kindInbox), p.id, p.rcpt.public, p.actorID); err != nil {
			return err
		}
	}
	return nil
}
