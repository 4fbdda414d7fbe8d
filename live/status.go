package live

import "time"

// DefaultLeakAfter is how long a stream may stay open or half-closed
// before front ends count it as a suspected leak (SnapshotOptions.LeakAfter).
const DefaultLeakAfter = 30 * time.Second

// Status is the watched system's own figures, such as the demo's load
// generator's: named values, the most important first. Every front end
// shows them: the UI and plain output as "label value" pairs, JSON as an
// object of the keys.
type Status []StatusField

// StatusField is one figure of a Status.
type StatusField struct {
	// Key names the figure in JSON: "rate", "ok", "p99_seconds".
	Key string
	// Label names it for a person, before its value: "load", "ok", "p99".
	Label string
	// Value is a count (an int, int64 or uint64), a time.Duration, which
	// JSON gives in seconds, or a string.
	Value any
	// Unit follows a count for a person, such as "/s".
	Unit string
}
