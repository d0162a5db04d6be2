// Package setting reads the numeric settings of the project's configuration
// structs, where the zero value (or a negative one) means "the default".
package setting

import "cmp"

// Or is v when it is positive, else def: a setting left at zero takes its
// default, and so does a nonsensical negative one. Settings where a negative
// value means something (such as "no limit") test for it themselves.
func Or[T cmp.Ordered](v, def T) T {
	var zero T
	if v > zero {
		return v
	}
	return def
}
