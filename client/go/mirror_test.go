// Unit tests of Assembler: the chunk and delta rules a client must not get wrong. The watcher
// against a real tether is tested by tests/clients/client_libs_test.py.

package tether

import (
	"errors"
	"testing"

	"github.com/tether-sidecar/tether/client/go/tetherv1"
)

func entity(t, id, json string) *tetherv1.Entity {
	return &tetherv1.Entity{Type: t, Id: id, Json: []byte(json)}
}

func TestAssemblerFullThenDelta(t *testing.T) {
	a := NewAssembler(nil)
	m, _, err := a.Add(&tetherv1.WatchResponse{ConfigHash: "h1", Full: true,
		EntityTypes: []string{"routes", "services"},
		Metadata:    map[string][]byte{"_format_version": []byte(`"3.0"`)},
		Upserts:     []*tetherv1.Entity{entity("routes", "r1", `{}`), entity("routes", "r2", `{}`)}})
	if err != nil || m != nil {
		t.Fatalf("first chunk: mirror %v, err %v; want neither", m, err)
	}
	m, info, err := a.Add(&tetherv1.WatchResponse{ConfigHash: "h1", Full: true, ChunkIndex: 1,
		LastChunk: true, Upserts: []*tetherv1.Entity{entity("services", "s1", `{}`)}})
	if err != nil || m == nil || m.EntityCount() != 3 || info.Chunks != 2 || info.Upserts != 3 {
		t.Fatalf("full update: mirror %+v, info %+v, err %v", m, info, err)
	}
	full := m
	// The delta drops a route, removes the metadata key and the services type.
	m, info, err = a.Add(&tetherv1.WatchResponse{ConfigHash: "h2", BaseHash: "h1",
		LastChunk: true, EntityTypes: []string{"routes"},
		Metadata: map[string][]byte{"_format_version": nil},
		Removals: []*tetherv1.EntityRef{{Type: "routes", Id: "r1"}}})
	if err != nil || info.Full || info.BaseHash != "h1" {
		t.Fatalf("delta: info %+v, err %v", info, err)
	}
	if len(m.Entities) != 1 || len(m.Entities["routes"]) != 1 || len(m.Metadata) != 0 {
		t.Errorf("after delta: entities %v, metadata %v", m.Entities, m.Metadata)
	}
	if full.EntityCount() != 3 || len(full.Metadata) != 1 {
		t.Errorf("the delta modified the mirror it applied to: %+v", full)
	}
}

func TestAssemblerRefusesInconsistentUpdates(t *testing.T) {
	for name, chunk := range map[string]*tetherv1.WatchResponse{
		"delta on the wrong base": {ConfigHash: "h2", BaseHash: "other", LastChunk: true},
		"no hash":                 {Full: true, LastChunk: true},
		"first chunk index 1":     {ConfigHash: "h2", Full: true, ChunkIndex: 1},
		"removals in a full":      {ConfigHash: "h2", Full: true, Removals: []*tetherv1.EntityRef{{}}},
		"unlisted type":           {ConfigHash: "h2", Full: true, Upserts: []*tetherv1.Entity{entity("x", "1", "{}")}},
	} {
		a := NewAssembler(&Mirror{ConfigHash: "h1"})
		if _, _, err := a.Add(chunk); !errors.Is(err, ErrInvalidUpdate) {
			t.Errorf("%s: err %v, want ErrInvalidUpdate", name, err)
		}
		if a.Current().ConfigHash != "h1" {
			t.Errorf("%s: the held mirror changed", name)
		}
	}
}
