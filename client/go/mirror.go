// Mirror: a proxy's local copy of tether's config, and the assembly of WatchResponse chunks into
// new mirrors. The Go twin of client/lib/mirror.h; the rules are the same.
//
// Why: every client of the Watch API must do the same careful work (collect chunks, check that a
// delta applies to the state it holds, apply upserts and removals, publish a new immutable copy).
//
// Concurrency: a published Mirror is never modified, so any goroutine may read it; an Assembler
// belongs to one stream (one goroutine).

package tether

import (
	"errors"
	"fmt"

	"github.com/tether-sidecar/tether/client/go/tetherv1"
)

// ErrInvalidUpdate wraps every error of Assembler.Add: chunks that are inconsistent or a delta
// that does not apply to the mirror held.
var ErrInvalidUpdate = errors.New("invalid update")

// Mirror is one config as tether serves it, restricted to the subscribed entity types. Callers
// must not modify it: the watcher builds the next mirror from it.
type Mirror struct {
	// ConfigHash is empty before the first update.
	ConfigHash string
	Hashes     map[string]string
	// Entities maps type -> id -> the entity's compact JSON, exactly as the control plane sent it.
	Entities map[string]map[string][]byte
	// Metadata maps the top-level keys that are not entity collections (`_format_version`, ...)
	// to their compact JSON.
	Metadata map[string][]byte
	Source   tetherv1.Source
}

// EntityCount is the number of entities of all types.
func (m *Mirror) EntityCount() int {
	n := 0
	for _, rows := range m.Entities {
		n += len(rows)
	}
	return n
}

// UpdateInfo says how an update reached its mirror, as tether sent it.
type UpdateInfo struct {
	// Full: the update replaced the mirror. Otherwise a delta applied to the mirror at BaseHash.
	Full     bool
	BaseHash string
	Upserts  int
	Removals int
	Chunks   int
}

// Assembler feeds chunks in stream order and publishes a new Mirror at each update's last chunk.
type Assembler struct {
	current *Mirror
	// Set between the first and the last chunk of an update.
	pending *pendingUpdate
}

// pendingUpdate is applied chunk by chunk to a private copy, so the chunks need not be kept.
type pendingUpdate struct {
	info        UpdateInfo
	configHash  string
	nextIndex   uint32
	entityTypes map[string]bool
	mirror      *Mirror
}

// NewAssembler starts from initial (e.g. the mirror held before a reconnect), or from an empty
// mirror when initial is nil.
func NewAssembler(initial *Mirror) *Assembler {
	if initial == nil {
		initial = &Mirror{}
	}
	return &Assembler{current: initial}
}

// Current is the last complete mirror (never nil).
func (a *Assembler) Current() *Mirror { return a.current }

// Add feeds one chunk. It returns the new mirror when chunk completes an update, nil while the
// update is incomplete. Errors wrap ErrInvalidUpdate: the hash, full flag or base_hash changes
// within an update, chunk_index is out of order, a delta's base_hash is not the held hash,
// metadata comes after the first chunk, a full update has removals, or an upsert's type is not
// listed in entity_types. The held mirror is then unchanged and the partial update dropped, so
// the next chunk must start a new update.
func (a *Assembler) Add(chunk *tetherv1.WatchResponse) (*Mirror, UpdateInfo, error) {
	var err error
	if a.pending == nil {
		err = a.begin(chunk)
	} else {
		err = a.continueWith(chunk)
	}
	if err == nil {
		err = a.apply(chunk)
	}
	if err != nil {
		a.pending = nil
		return nil, UpdateInfo{}, fmt.Errorf("%w: %s", ErrInvalidUpdate, err.Error())
	}
	a.pending.nextIndex++
	if !chunk.GetLastChunk() {
		return nil, UpdateInfo{}, nil
	}
	return a.complete()
}

func (a *Assembler) begin(chunk *tetherv1.WatchResponse) error {
	hash := chunk.GetConfigHash()
	if hash == "" {
		return errors.New("update chunk without config_hash")
	}
	if chunk.GetChunkIndex() != 0 {
		return fmt.Errorf("update %s: first chunk has chunk_index %d, want 0", hash,
			chunk.GetChunkIndex())
	}
	if !chunk.GetFull() && chunk.GetBaseHash() != a.current.ConfigHash {
		held := a.current.ConfigHash
		if held == "" {
			held = "nothing"
		}
		return fmt.Errorf("delta to %s applies to %s but the mirror holds %s", hash,
			chunk.GetBaseHash(), held)
	}
	p := &pendingUpdate{
		info:        UpdateInfo{Full: chunk.GetFull(), BaseHash: chunk.GetBaseHash()},
		configHash:  hash,
		entityTypes: map[string]bool{},
		mirror: &Mirror{
			ConfigHash: hash,
			Hashes:     copyMap(chunk.GetHashes()),
			Entities:   map[string]map[string][]byte{},
			Metadata:   map[string][]byte{},
			Source:     chunk.GetSource(),
		},
	}
	for _, t := range chunk.GetEntityTypes() {
		p.entityTypes[t] = true
	}
	// Copy-on-write: readers of the current mirror keep a consistent one while this is built.
	if !p.info.Full {
		for t, rows := range a.current.Entities {
			p.mirror.Entities[t] = copyMap(rows)
		}
		if len(chunk.GetMetadata()) == 0 {
			p.mirror.Metadata = a.current.Metadata
		}
	}
	// A delta carries the target's whole metadata when it changed; an empty value marks a key
	// the target no longer has.
	for key, json := range chunk.GetMetadata() {
		if len(json) > 0 || p.info.Full {
			p.mirror.Metadata[key] = json
		}
	}
	a.pending = p
	return nil
}

func (a *Assembler) continueWith(chunk *tetherv1.WatchResponse) error {
	p := a.pending
	index := chunk.GetChunkIndex()
	switch {
	case chunk.GetConfigHash() != p.configHash:
		return fmt.Errorf("update %s: chunk %d has config_hash %s", p.configHash, index,
			chunk.GetConfigHash())
	case chunk.GetFull() != p.info.Full || chunk.GetBaseHash() != p.info.BaseHash:
		return fmt.Errorf("update %s: chunk %d changes full or base_hash mid-update",
			p.configHash, index)
	case index != p.nextIndex:
		return fmt.Errorf("update %s: chunk_index %d, want %d", p.configHash, index, p.nextIndex)
	case len(chunk.GetMetadata()) > 0:
		// Ignoring it would silently lose metadata.
		return fmt.Errorf("update %s: chunk %d carries metadata (only the first may)",
			p.configHash, index)
	}
	return nil
}

func (a *Assembler) apply(chunk *tetherv1.WatchResponse) error {
	p := a.pending
	entities := p.mirror.Entities
	if p.info.Full && len(chunk.GetRemovals()) > 0 {
		return fmt.Errorf("full update %s: chunk %d has %d removals", p.configHash,
			chunk.GetChunkIndex(), len(chunk.GetRemovals()))
	}
	for _, ref := range chunk.GetRemovals() {
		// A removal may name a type the update no longer lists (the whole type went away).
		delete(entities[ref.GetType()], ref.GetId())
	}
	for _, e := range chunk.GetUpserts() {
		if !p.entityTypes[e.GetType()] {
			return fmt.Errorf("update %s: upsert of %s/%s but the update does not list type %s "+
				"in entity_types", p.configHash, e.GetType(), e.GetId(), e.GetType())
		}
		if entities[e.GetType()] == nil {
			entities[e.GetType()] = map[string][]byte{}
		}
		entities[e.GetType()][e.GetId()] = e.GetJson()
	}
	p.info.Upserts += len(chunk.GetUpserts())
	p.info.Removals += len(chunk.GetRemovals())
	return nil
}

func (a *Assembler) complete() (*Mirror, UpdateInfo, error) {
	p := a.pending
	entities := p.mirror.Entities
	// entity_types is the set of types the update brings the mirror to: a type missing from it
	// is gone, and a listed type without rows is empty.
	for t := range entities {
		if !p.entityTypes[t] {
			delete(entities, t)
		}
	}
	for t := range p.entityTypes {
		if entities[t] == nil {
			entities[t] = map[string][]byte{}
		}
	}
	p.info.Chunks = int(p.nextIndex)
	a.current, a.pending = p.mirror, nil
	return a.current, p.info, nil
}

func copyMap[K comparable, V any](m map[K]V) map[K]V {
	out := make(map[K]V, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
