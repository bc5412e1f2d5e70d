package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"
)

const pipelineSchema = "../../schemas/pipeline.schema.json"

// TestSchemaAgreesWithLoader checks that schemas/pipeline.schema.json and
// Load accept and reject the same files over a corpus of structurally
// valid and invalid pipelines (testdata/schema), plus the good files.
func TestSchemaAgreesWithLoader(t *testing.T) {
	sch, err := jsonschema.NewCompiler().Compile(pipelineSchema)
	if err != nil {
		t.Fatalf("compile %s: %v", pipelineSchema, err)
	}
	valid, _ := filepath.Glob("testdata/schema/valid/*.yaml")
	good, _ := filepath.Glob("testdata/*.good.yaml")
	invalid, _ := filepath.Glob("testdata/schema/invalid/*.yaml")
	if len(valid) < 12 || len(invalid) < 20 {
		t.Fatalf("corpus has %d valid and %d invalid files, want at least 12 and 20", len(valid), len(invalid))
	}
	cases := map[bool][]string{true: append(valid, good...), false: invalid}
	for want, files := range cases {
		for _, path := range files {
			t.Run(path, func(t *testing.T) {
				t.Parallel()
				src, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				_, ds := Load(path, src, lookupTestEnv)
				doc, err := yamlToJSON(src)
				if err != nil {
					t.Fatal(err)
				}
				schemaErr := sch.Validate(doc)
				if got := !ds.HasErrors(); got != want {
					t.Errorf("loader accepts: %v, want %v; diagnostics:\n%s", got, want, render(ds))
				}
				if got := schemaErr == nil; got != want {
					t.Errorf("schema accepts: %v, want %v; %v", got, want, schemaErr)
				}
			})
		}
	}
}

// yamlToJSON decodes YAML and re-reads it as the JSON value the validator
// expects.
func yamlToJSON(src []byte) (any, error) {
	var v any
	if err := yaml.Unmarshal(src, &v); err != nil {
		return nil, err
	}
	b, err := json.Marshal(jsonable(v))
	if err != nil {
		return nil, err
	}
	return jsonschema.UnmarshalJSON(bytes.NewReader(b))
}

// jsonable turns maps with non-string keys, which YAML allows and JSON
// does not, into maps with string keys.
func jsonable(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			v[k] = jsonable(e)
		}
		return v
	case map[any]any:
		m := make(map[string]any, len(v))
		for k, e := range v {
			m[fmt.Sprint(k)] = jsonable(e)
		}
		return m
	case []any:
		for i, e := range v {
			v[i] = jsonable(e)
		}
		return v
	}
	return v
}

// TestSchemaIsFormatted keeps the schema file valid JSON with a final
// newline, as editors read it.
func TestSchemaIsFormatted(t *testing.T) {
	src, err := os.ReadFile(pipelineSchema)
	if err != nil {
		t.Fatal(err)
	}
	if !json.Valid(src) || !strings.HasSuffix(string(src), "}\n") {
		t.Errorf("%s is not valid JSON ending in a newline", pipelineSchema)
	}
}
