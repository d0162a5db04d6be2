package edge

import (
	"encoding/json"
	"net/url"

	"github.com/subpub/subpub/wire"
)

// invalidateFromEvent drops what the cache holds for the resources an event
// says changed: the stream's own resource (a collection gained or lost an
// item; an object changed), the object of an Update or Delete, and the
// target of an Add or Remove. Events are Activity Streams activities; any
// other payload just invalidates the stream's resource.
func (c *Cache) invalidateFromEvent(streamURI string, f *wire.Frame) {
	if u, err := url.Parse(streamURI); err == nil {
		c.Invalidate(u.Path)
	}
	var activity struct {
		Object json.RawMessage `json:"object"`
		Target json.RawMessage `json:"target"`
	}
	if json.Unmarshal(f.Data, &activity) != nil {
		return
	}
	switch f.Type {
	case "Update", "Delete":
		c.invalidateReferenced(activity.Object)
	case "Add", "Remove":
		c.invalidateReferenced(activity.Target)
	}
}

// invalidateReferenced invalidates an Activity Streams reference: an id, or
// an object with an id.
func (c *Cache) invalidateReferenced(ref json.RawMessage) {
	var id string
	if json.Unmarshal(ref, &id) != nil {
		var obj struct {
			ID string `json:"id"`
		}
		if json.Unmarshal(ref, &obj) != nil {
			return
		}
		id = obj.ID
	}
	if u, err := url.Parse(id); err == nil && id != "" {
		c.Invalidate(u.Path)
	}
}
