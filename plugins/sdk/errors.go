package sdk

import "errors"

// Sentinel errors tell the host what to do next. They keep their identity
// across the plugin process boundary.
var (
	// ErrEndOfInput is returned by Source.Read when a bounded source has
	// delivered every message. The host stops reading and finishes the run.
	ErrEndOfInput = errors.New("end of input")
	// ErrBackoff asks the host to wait a little before calling again; the
	// call had no effect.
	ErrBackoff = errors.New("back off")
	// ErrNotConnected says the plugin lost its connection; the host reopens it.
	ErrNotConnected = errors.New("not connected")
)

// ConfigError is a problem with a plugin's configuration found at run time.
type ConfigError struct {
	Path string // dotted path inside the config block, e.g. "brokers[1]"
	Msg  string
}

func (e *ConfigError) Error() string {
	if e.Path == "" {
		return e.Msg
	}
	return e.Path + ": " + e.Msg
}
