"""Snapshot: a proxy's local copy of tether's config, and the assembly of WatchResponse chunks
into new snapshots. The Python twin of client/lib/mirror.h; the rules are the same.

Why: every client of the Watch API must do the same careful work (collect chunks, check that a
delta applies to the state it holds, apply upserts and removals, publish a new immutable copy).

Threading: a Snapshot is immutable once published (read-only mappings). An Assembler belongs to
one stream.
"""

from __future__ import annotations

import dataclasses
import json
from types import MappingProxyType
from typing import Any, Dict, Mapping, Optional, Set

from ._proto import config_pb2

Rows = Mapping[str, bytes]


class UpdateError(ValueError):
    """An update whose chunks are inconsistent or that does not apply to the held snapshot."""


@dataclasses.dataclass(frozen=True)
class UpdateInfo:
    """How an update reached its snapshot, as tether sent it."""

    full: bool = True
    base_hash: str = ""  # empty for full updates
    upserts: int = 0
    removals: int = 0
    chunks: int = 0


@dataclasses.dataclass(frozen=True)
class Snapshot:
    """One config as tether serves it, restricted to the subscribed entity types."""

    config_hash: str = ""  # empty before the first update
    hashes: Mapping[str, str] = dataclasses.field(default_factory=dict)
    # type -> id -> the entity's compact JSON, exactly as the control plane sent it.
    entities: Mapping[str, Rows] = dataclasses.field(default_factory=dict)
    # Top-level keys that are not entity collections (`_format_version`, ...) -> compact JSON.
    metadata: Mapping[str, bytes] = dataclasses.field(default_factory=dict)
    source: int = 0  # tether.v1.Source
    update: UpdateInfo = dataclasses.field(default_factory=UpdateInfo)

    def entity_count(self) -> int:
        return sum(len(rows) for rows in self.entities.values())

    def rows(self, entity_type: str) -> Dict[str, Any]:
        """The parsed rows of one type, by id (empty when the type is absent)."""
        return {i: json.loads(raw) for i, raw in self.entities.get(entity_type, {}).items()}

    def kong_config(self) -> Dict[str, Any]:
        """The snapshot as a Kong declarative config: metadata keys and entity collections."""
        config: Dict[str, Any] = {k: json.loads(v) for k, v in self.metadata.items()}
        for entity_type in self.entities:
            config[entity_type] = list(self.rows(entity_type).values())
        return config


class _Pending:
    """The update being assembled: applied chunk by chunk to private copies, published at
    last_chunk."""

    def __init__(self, chunk: config_pb2.WatchResponse, held: Snapshot):
        self.config_hash = chunk.config_hash
        self.base_hash = chunk.base_hash
        self.full = chunk.full
        self.next_index = 0
        self.entity_types: Set[str] = set(chunk.entity_types)
        self.upserts = self.removals = 0
        self.entities: Dict[str, Dict[str, bytes]] = (
            {} if self.full else {t: dict(rows) for t, rows in held.entities.items()})
        self.hashes = dict(chunk.hashes)
        self.source = chunk.source
        if self.full:
            self.metadata = dict(chunk.metadata)
        elif chunk.metadata:
            # A delta carries the target's whole metadata when it changed; an empty value marks a
            # key the target no longer has.
            self.metadata = {k: v for k, v in chunk.metadata.items() if v}
        else:
            self.metadata = dict(held.metadata)


class Assembler:
    """Feeds chunks in stream order; returns a new Snapshot when one completes an update."""

    def __init__(self, initial: Optional[Snapshot] = None):
        self._current = initial if initial is not None else Snapshot()
        self._pending: Optional[_Pending] = None

    @property
    def current(self) -> Snapshot:
        """The last complete snapshot."""
        return self._current

    def add(self, chunk: config_pb2.WatchResponse) -> Optional[Snapshot]:
        """The new snapshot when `chunk` completes an update, None while it is incomplete.

        Raises UpdateError when the chunks are inconsistent (the hash, full flag or base_hash
        changes within an update, chunk_index out of order, a delta whose base_hash is not the
        held hash, metadata after the first chunk, removals in a full update, an upsert of a type
        the update does not list); the held snapshot is then unchanged and the partial update
        dropped, so the next chunk must start a new update.
        """
        try:
            if self._pending is None:
                self._pending = self._begin(chunk)
            else:
                self._continue(chunk)
            self._apply(chunk)
        except UpdateError:
            self._pending = None
            raise
        self._pending.next_index += 1
        return self._complete() if chunk.last_chunk else None

    def _begin(self, chunk: config_pb2.WatchResponse) -> _Pending:
        if not chunk.config_hash:
            raise UpdateError("update chunk without config_hash")
        if chunk.chunk_index != 0:
            raise UpdateError(f"update {chunk.config_hash}: first chunk has chunk_index "
                              f"{chunk.chunk_index}, want 0")
        if not chunk.full and chunk.base_hash != self._current.config_hash:
            raise UpdateError(f"delta to {chunk.config_hash} applies to {chunk.base_hash} but the "
                              f"mirror holds {self._current.config_hash or 'nothing'}")
        return _Pending(chunk, self._current)

    def _continue(self, chunk: config_pb2.WatchResponse) -> None:
        pending = self._pending
        assert pending is not None
        where = f"update {pending.config_hash}: chunk {chunk.chunk_index}"
        if chunk.config_hash != pending.config_hash:
            raise UpdateError(f"{where} has config_hash {chunk.config_hash}")
        if chunk.full != pending.full or chunk.base_hash != pending.base_hash:
            raise UpdateError(f"{where} changes full or base_hash mid-update")
        if chunk.chunk_index != pending.next_index:
            raise UpdateError(f"update {pending.config_hash}: chunk_index {chunk.chunk_index}, "
                              f"want {pending.next_index}")
        if chunk.metadata:
            # Ignoring it would silently lose metadata.
            raise UpdateError(f"{where} carries metadata (only the first may)")

    def _apply(self, chunk: config_pb2.WatchResponse) -> None:
        pending = self._pending
        assert pending is not None
        if pending.full and chunk.removals:
            raise UpdateError(f"full update {pending.config_hash}: chunk {chunk.chunk_index} has "
                              f"{len(chunk.removals)} removals")
        for ref in chunk.removals:
            # A removal may name a type the update no longer lists (the whole type went away).
            pending.entities.get(ref.type, {}).pop(ref.id, None)
        for entity in chunk.upserts:
            if entity.type not in pending.entity_types:
                raise UpdateError(f"update {pending.config_hash}: upsert of {entity.type}/"
                                  f"{entity.id} but the update does not list type {entity.type} "
                                  "in entity_types")
            pending.entities.setdefault(entity.type, {})[entity.id] = entity.json
        pending.upserts += len(chunk.upserts)
        pending.removals += len(chunk.removals)

    def _complete(self) -> Snapshot:
        pending = self._pending
        assert pending is not None
        # entity_types is the set of types the update brings the mirror to: a type missing from
        # it is gone, and a listed type without rows is empty.
        entities = {t: MappingProxyType(pending.entities.get(t, {})) for t in
                    sorted(pending.entity_types)}
        self._current = Snapshot(
            config_hash=pending.config_hash, hashes=MappingProxyType(pending.hashes),
            entities=MappingProxyType(entities), metadata=MappingProxyType(pending.metadata),
            source=pending.source,
            update=UpdateInfo(full=pending.full, base_hash=pending.base_hash,
                              upserts=pending.upserts, removals=pending.removals,
                              chunks=pending.next_index))
        self._pending = None
        return self._current
