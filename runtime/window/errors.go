package window

import "errors"

// ErrCorrupt reports a snapshot that Restore cannot read: not a snapshot,
// truncated, failing its checksums, or describing an impossible state.
// Errors wrap it with the frame, the byte offset and what is wrong.
var ErrCorrupt = errors.New("corrupt window snapshot")
