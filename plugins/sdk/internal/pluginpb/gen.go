// Package pluginpb is the generated Go code of the plugin protocol,
// proto/flowctl/plugin/v1. It is internal to the SDK: public signatures use
// the hand-written sdk types, converted in package wire and at the two
// ends of the transport.
package pluginpb

//go:generate sh ../../../../scripts/gen-proto.sh
