"""An independent tether client in Python: the interop half of tests/e2e/interop_test.py.

Written from proto/tether/v1/*.proto alone (no code shared with client/lib): it subscribes in
DELTA mode, assembles chunks, checks that what it holds equals the config the control plane
serves, acks, and checks the ack in tether's status. Then it changes the CP's config file, and
checks that the delta it receives brings it to exactly the new config. Last, it nacks and checks
the nack in status.

Usage: interop_client.py --addr unix:///.../tether.sock --cp-config FILE --pygen DIR
Prints one JSON line on success: {"config_hash": ..., "first_hash": ..., "entities": N}.
Exits 1 with a message on stderr on any mismatch.
"""

import argparse
import copy
import json
import os
import queue
import sys
import time

CLIENT_ID = "interop-python"
# Bounds every wait; generous, never the thing measured.
DEADLINE_SECONDS = 30


def fail(message):
    print(f"interop_client: {message}", file=sys.stderr)
    sys.exit(1)


def entity_key(entity_type, row):
    # kong-protocol.md §7.3: `parameters` rows are keyed by `key`, every other type by `id`.
    return row["key"] if entity_type == "parameters" else row["id"]


def expected_state(config):
    """The CP config file as (metadata, {type: {id: row}})."""
    metadata, entities = {}, {}
    for key, value in config.items():
        if isinstance(value, list):
            entities[key] = {entity_key(key, row): row for row in value}
        else:
            metadata[key] = value
    return metadata, entities


class Mirror:
    """What this client holds: the state every update is applied to."""

    def __init__(self):
        self.config_hash = ""
        self.entities = {}  # type -> id -> parsed row
        self.metadata = {}  # key -> parsed value

    def apply(self, chunks):
        """Applies one update (its chunks, in order) or fails."""
        first = chunks[0]
        for i, chunk in enumerate(chunks):
            if chunk.config_hash != first.config_hash:
                fail(f"chunk {i} has hash {chunk.config_hash}, update is {first.config_hash}")
            if chunk.chunk_index != i:
                fail(f"chunk_index {chunk.chunk_index} at position {i}")
            if chunk.full != first.full:
                fail("full flag changes within an update")
        if first.full:
            entities, metadata = {}, {}
        else:
            if first.base_hash != self.config_hash:
                fail(f"delta applies to {first.base_hash}, we hold {self.config_hash}")
            entities = copy.deepcopy(self.entities)
            metadata = dict(self.metadata)
        if first.metadata:
            if not first.full:
                metadata = {}
            for key, raw in first.metadata.items():
                if raw:  # an empty value marks a key the new config no longer has
                    metadata[key] = json.loads(raw)
        for chunk in chunks:
            for ref in chunk.removals:
                entities.get(ref.type, {}).pop(ref.id, None)
            for entity in chunk.upserts:
                entities.setdefault(entity.type, {})[entity.id] = json.loads(entity.json)
        # entity_types lists every type the update brings us to; others are gone.
        types = set(first.entity_types)
        entities = {t: rows for t, rows in entities.items() if t in types}
        for t in types:
            entities.setdefault(t, {})
        self.entities, self.metadata, self.config_hash = entities, metadata, first.config_hash
        return first


def compare(mirror, config, what):
    metadata, entities = expected_state(config)
    if mirror.metadata != metadata:
        fail(f"{what}: metadata {mirror.metadata} != served {metadata}")
    held = {t: rows for t, rows in mirror.entities.items() if rows}
    want = {t: rows for t, rows in entities.items() if rows}
    if held.keys() != want.keys():
        fail(f"{what}: types {sorted(held)} != served {sorted(want)}")
    for entity_type, rows in want.items():
        if held[entity_type].keys() != rows.keys():
            fail(f"{what}: {entity_type} ids {sorted(held[entity_type])} != {sorted(rows)}")
        for entity_id, row in rows.items():
            if held[entity_type][entity_id] != row:
                fail(f"{what}: {entity_type}/{entity_id} is {held[entity_type][entity_id]}, "
                     f"served {row}")


def changed_config(config):
    """The config with one route removed, one service changed and one consumer added."""
    new = copy.deepcopy(config)
    removed = new["routes"].pop()
    new["services"][0]["retries"] = new["services"][0].get("retries", 5) + 1
    new["consumers"].append({
        "id": "0b5a4e7c-6a0e-4f8e-9d2f-1d8c0a3b9e01",
        "username": "interop-added",
        "custom_id": None,
        "tags": None,
        "created_at": 1718000999,
        "updated_at": 1718000999,
    })
    # Keep the config consistent: nothing may point at the removed route.
    new["plugins"] = [p for p in new.get("plugins", []) if p.get("route") != removed["id"]]
    return new


def write_atomically(path, config):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(config, f, indent=2)
    os.replace(tmp, path)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--addr", required=True)
    parser.add_argument("--cp-config", required=True)
    parser.add_argument("--pygen", required=True)
    args = parser.parse_args()

    sys.path.insert(0, args.pygen)
    import grpc
    from tether.v1 import config_pb2, config_pb2_grpc, status_pb2, status_pb2_grpc

    with open(args.cp_config) as f:
        served = json.load(f)

    channel = grpc.insecure_channel(args.addr)
    config_stub = config_pb2_grpc.ConfigServiceStub(channel)
    status_stub = status_pb2_grpc.StatusServiceStub(channel)

    requests = queue.Queue()

    def request_stream():
        while True:
            request = requests.get()
            if request is None:
                return
            yield request

    requests.put(config_pb2.WatchRequest(subscribe=config_pb2.Subscribe(
        client_id=CLIENT_ID, mode=config_pb2.MODE_DELTA)))
    # The deadline bounds the whole exchange: a missing update fails the test, never hangs it.
    responses = config_stub.Watch(request_stream(), timeout=3 * DEADLINE_SECONDS)

    def next_update():
        chunks = []
        for chunk in responses:
            chunks.append(chunk)
            if chunk.last_chunk:
                return chunks
        fail("the Watch stream ended before the update's last chunk")

    def await_subscriber(predicate, what):
        deadline = time.monotonic() + DEADLINE_SECONDS
        while time.monotonic() < deadline:
            status = status_stub.GetStatus(status_pb2.GetStatusRequest(), timeout=5)
            for sub in status.subscribers:
                if sub.client_id == CLIENT_ID and predicate(sub):
                    return sub
            time.sleep(0.05)  # polling interval, not a synchronisation
        fail(f"status never showed {what}")

    mirror = Mirror()
    try:
        # 1. The first update is full and equals the served config.
        first = mirror.apply(next_update())
        if not first.full:
            fail("the first update is not full")
        if first.source != config_pb2.SOURCE_CONTROL_PLANE:
            fail(f"source is {first.source}, want CONTROL_PLANE")
        compare(mirror, served, "full update")
        first_hash = mirror.config_hash
        requests.put(config_pb2.WatchRequest(ack=config_pb2.Ack(config_hash=first_hash)))
        sub = await_subscriber(lambda s: s.acked_hash == first_hash, f"the ack of {first_hash}")
        if sub.mode != config_pb2.MODE_DELTA:
            fail(f"status shows mode {sub.mode}, want DELTA")

        # 2. A config change arrives as a delta that brings us exactly to the new config.
        changed = changed_config(served)
        write_atomically(args.cp_config, changed)
        delta = mirror.apply(next_update())
        if delta.full:
            fail("the update after a change is full, want a delta")
        if delta.base_hash != first_hash:
            fail(f"delta base {delta.base_hash}, want {first_hash}")
        compare(mirror, changed, "delta update")
        requests.put(config_pb2.WatchRequest(ack=config_pb2.Ack(config_hash=mirror.config_hash)))
        await_subscriber(lambda s: s.acked_hash == mirror.config_hash, "the ack of the delta")

        # 3. A nack is recorded with its error.
        requests.put(config_pb2.WatchRequest(nack=config_pb2.Nack(
            config_hash=mirror.config_hash, error="interop nack check")))
        await_subscriber(lambda s: s.nacked_hash == mirror.config_hash
                         and s.nack_error == "interop nack check", "the nack")
    except grpc.RpcError as e:
        fail(f"rpc failed: {e.code()}: {e.details()}")
    finally:
        requests.put(None)
        responses.cancel()
        channel.close()

    total = sum(len(rows) for rows in mirror.entities.values())
    print(json.dumps({"config_hash": mirror.config_hash, "first_hash": first_hash,
                      "entities": total}))


if __name__ == "__main__":
    main()
