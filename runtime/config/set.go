package config

import (
	"fmt"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// ApplySet applies one `path=value` override to a pipeline document. The
// path is a dotted list of keys; a list item is named by its index
// (`sources[0]`) or, for lists of named stages, by its name
// (`sources.orders.config.path`). Missing mapping keys are created. The
// value is read as YAML, so `--set checkpoint.every=5s`,
// `--set mode=stream` and `--set sources.k.config.brokers=[a,b]` all work.
// It returns the value's node, whose positions are within the value text.
func ApplySet(root *yaml.Node, set string) (*yaml.Node, error) {
	path, value, ok := strings.Cut(set, "=")
	if !ok || path == "" {
		return nil, fmt.Errorf("--set %q: want path=value", set)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(value), &doc); err != nil {
		return nil, fmt.Errorf("--set %s: value: %v", path, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	val := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: ""}
	if len(doc.Content) == 1 {
		val = doc.Content[0]
	}
	segs, err := splitPath(path)
	if err != nil {
		return nil, fmt.Errorf("--set %s: %v", path, err)
	}
	n := root
	for i, seg := range segs {
		last := i == len(segs)-1
		switch n.Kind {
		case yaml.MappingNode:
			j := mappingIndex(n, seg)
			if j < 0 {
				if last {
					n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: seg}, val)
					return val, nil
				}
				child := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
				n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: seg}, child)
				n = child
				continue
			}
			if last {
				n.Content[j+1] = val
				return val, nil
			}
			n = n.Content[j+1]
		case yaml.SequenceNode:
			j := sequenceIndex(n, seg)
			if j < 0 {
				return nil, fmt.Errorf("--set %s: no item %q", path, seg)
			}
			if last {
				n.Content[j] = val
				return val, nil
			}
			n = n.Content[j]
		default:
			return nil, fmt.Errorf("--set %s: %q is not a mapping or a list", path, strings.Join(segs[:i], "."))
		}
	}
	return val, nil
}

// splitPath splits `a.b[0].c` into a, b, 0, c.
func splitPath(path string) ([]string, error) {
	var segs []string
	for _, part := range strings.Split(path, ".") {
		name, rest, bracket := strings.Cut(part, "[")
		if bracket && rest == "" {
			return nil, fmt.Errorf("bad index in %q", part)
		}
		if name != "" {
			segs = append(segs, name)
		}
		for rest != "" {
			idx, after, ok := strings.Cut(rest, "]")
			if !ok || idx == "" {
				return nil, fmt.Errorf("bad index in %q", part)
			}
			segs = append(segs, idx)
			rest = strings.TrimPrefix(after, "[")
		}
		if name == "" && !strings.Contains(part, "[") {
			return nil, fmt.Errorf("empty key")
		}
	}
	return segs, nil
}

func mappingIndex(n *yaml.Node, key string) int {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return i
		}
	}
	return -1
}

// sequenceIndex finds a list item by index or by its `name:` value.
func sequenceIndex(n *yaml.Node, seg string) int {
	if i, err := strconv.Atoi(seg); err == nil {
		if i >= 0 && i < len(n.Content) {
			return i
		}
		return -1
	}
	for i, item := range n.Content {
		if item.Kind == yaml.MappingNode {
			if j := mappingIndex(item, "name"); j >= 0 && item.Content[j+1].Value == seg {
				return i
			}
		}
	}
	return -1
}
