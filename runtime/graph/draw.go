package graph

import (
	"fmt"
	"strings"
	"time"

	"github.com/flowctl/flowctl/runtime/config"
)

// DOT renders the graph in Graphviz's DOT language, left to right:
// sources as tabs, transforms as boxes, sinks as cylinders, each labelled
// with its name and what it does.
func (g *Graph) DOT() string {
	var b strings.Builder
	name := ""
	if g.Pipeline != nil {
		name = g.Pipeline.Name.Value
	}
	fmt.Fprintf(&b, "digraph %s {\n", dotQuote(name))
	b.WriteString("  rankdir=LR;\n")
	for _, n := range g.Nodes {
		shape := map[Kind]string{SourceNode: "tab", TransformNode: "box", SinkNode: "cylinder"}[n.Kind]
		fmt.Fprintf(&b, "  %s [shape=%s, label=%s];\n", dotQuote(n.Name), shape, dotQuote(n.Name+"\n"+n.does()))
	}
	for _, n := range g.Nodes {
		for _, out := range n.Outputs {
			fmt.Fprintf(&b, "  %s -> %s;\n", dotQuote(n.Name), dotQuote(out.Name))
		}
	}
	b.WriteString("}\n")
	return b.String()
}

// dotQuote renders s as a DOT string; a newline becomes a centred line
// break.
func dotQuote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return `"` + r.Replace(s) + `"`
}

// Mermaid renders the graph as a Mermaid flowchart, left to right, with
// the same shapes as DOT. Node ids are n0, n1, ... so that no stage name
// can clash with Mermaid's keywords.
func (g *Graph) Mermaid() string {
	var b strings.Builder
	b.WriteString("flowchart LR\n")
	id := make(map[*Node]string, len(g.Nodes))
	for i, n := range g.Nodes {
		id[n] = fmt.Sprintf("n%d", i)
		label := mermaidQuote(n.Name) + "<br/>" + mermaidQuote(n.does())
		switch n.Kind {
		case SourceNode:
			fmt.Fprintf(&b, "  %s([\"%s\"])\n", id[n], label)
		case TransformNode:
			fmt.Fprintf(&b, "  %s[\"%s\"]\n", id[n], label)
		case SinkNode:
			fmt.Fprintf(&b, "  %s[(\"%s\")]\n", id[n], label)
		}
	}
	for _, n := range g.Nodes {
		for _, out := range n.Outputs {
			fmt.Fprintf(&b, "  %s --> %s\n", id[n], id[out])
		}
	}
	return b.String()
}

// mermaidQuote escapes text for a quoted Mermaid label.
func mermaidQuote(s string) string {
	r := strings.NewReplacer(`"`, "#quot;", "<", "#lt;", ">", "#gt;", "\n", " ")
	return r.Replace(s)
}

// does says in a few words what a stage does: its plugin, or the kind of
// transform. Expressions are left out: they may be long, and may hold
// values from the environment.
func (n *Node) does() string {
	switch n.Kind {
	case SourceNode:
		return n.Source.Plugin.Value
	case SinkNode:
		return n.Sink.Plugin.Value
	}
	t := n.Transform
	switch {
	case t.Filter != nil:
		return "filter"
	case len(t.Map) > 0:
		return "map"
	case t.Plugin != nil:
		return t.Plugin.Plugin.Value
	case len(t.Aggregate) > 0:
		s := "aggregate"
		if w := t.Window; w != nil {
			switch w.Kind {
			case config.Tumbling:
				s += " tumbling " + short(w.Size.Value)
			case config.Sliding:
				s += " sliding " + short(w.Size.Value) + "/" + short(w.Slide.Value)
			case config.Session:
				s += " session " + short(w.Gap.Value)
			}
		}
		if len(t.GroupBy) > 0 {
			keys := make([]string, len(t.GroupBy))
			for i, k := range t.GroupBy {
				keys[i] = k.Value
			}
			s += " by " + strings.Join(keys, ", ")
		}
		return s
	}
	return "transform"
}

// short renders a duration without zero trailing units: 1h, 5m, 1h30m.
func short(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}
