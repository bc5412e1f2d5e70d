// Package sdk is the one package a flowctl plugin author imports.
//
// A plugin is a source, a sink or a transform. It declares its configuration
// as a [Spec], implements the matching interface and is handed to the host:
// built-in plugins are listed in flowctl's catalog, third-party plugins call
// [Serve] from their main function (see the plugin protocol documentation).
//
// # Getting started
//
// A source reads messages and returns them in batches:
//
//	type Source struct{ n int64 }
//
//	func (s *Source) Open(ctx context.Context, req sdk.OpenRequest) error { return nil }
//	func (s *Source) Read(ctx context.Context) (sdk.Batch, error) {
//		if s.n == 3 {
//			return sdk.Batch{}, sdk.ErrEndOfInput
//		}
//		s.n++
//		return sdk.Batch{Messages: []sdk.Message{{Payload: []byte(`{"n":1}`)}}}, nil
//	}
//	func (s *Source) Close(ctx context.Context) error { return nil }
//
// # Source
//
// [Source] is called from one goroutine at a time: Open, then Read until it
// returns [ErrEndOfInput] (bounded sources) or the context is cancelled, then
// Close. Messages carry either a Payload, decoded by the pipeline's `format`,
// or structured Fields. Each message has a [Position]; the host acknowledges
// positions through the optional [Acker] interface only once the sinks have
// durably written everything that came from them.
//
// # Sink
//
// [Sink] receives [Rows] in the order the pipeline produced them. Write may
// buffer; Flush (optional [Flusher]) must make everything written so far
// durable. Close is called once, after the last Flush.
//
// # Transform
//
// [Transform] turns a batch of rows into another batch of rows.
//
// # Configuration
//
// A plugin's config block is checked by the host against [Spec] (types,
// required fields, unknown keys), with defaults filled in, and then handed to
// the plugin as JSON; [DecodeConfig] decodes it into a typed struct. A plugin
// may set [Plugin].Validate to add its own checks, answered as [Diagnostic]
// values keyed by path; the host turns paths into file positions.
package sdk
