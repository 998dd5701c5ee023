"""Unit tests of tether_client.Assembler: the chunk and delta rules a client must not get wrong.
The watcher against a real tether is tested by tests/clients/client_libs_test.py, which runs these
too (PYTHONPATH: client/python and the generated tether.v1)."""

import unittest

from tether_client import Assembler, Snapshot, UpdateError
from tether_client._proto import config_pb2 as pb


def entity(entity_type: str, entity_id: str, json: bytes = b"{}") -> pb.Entity:
    return pb.Entity(type=entity_type, id=entity_id, json=json)


class AssemblerTest(unittest.TestCase):
    def test_full_then_delta(self) -> None:
        a = Assembler()
        self.assertIsNone(a.add(pb.WatchResponse(
            config_hash="h1", full=True, entity_types=["routes", "services"],
            metadata={"_format_version": b'"3.0"'},
            upserts=[entity("routes", "r1"), entity("routes", "r2")])))
        full = a.add(pb.WatchResponse(config_hash="h1", full=True, chunk_index=1, last_chunk=True,
                                      upserts=[entity("services", "s1")]))
        assert full is not None
        self.assertEqual((full.entity_count(), full.update.chunks, full.update.upserts), (3, 2, 3))
        self.assertEqual(full.kong_config()["_format_version"], "3.0")
        # The delta drops a route, removes the metadata key and the services type.
        delta = a.add(pb.WatchResponse(config_hash="h2", base_hash="h1", last_chunk=True,
                                       entity_types=["routes"], metadata={"_format_version": b""},
                                       removals=[pb.EntityRef(type="routes", id="r1")]))
        assert delta is not None
        self.assertFalse(delta.update.full)
        self.assertEqual(delta.update.base_hash, "h1")
        self.assertEqual({t: set(rows) for t, rows in delta.entities.items()}, {"routes": {"r2"}})
        self.assertEqual(dict(delta.metadata), {})
        self.assertEqual((full.entity_count(), len(full.metadata)), (3, 1),
                         "the delta modified the snapshot it applied to")

    def test_refuses_inconsistent_updates(self) -> None:
        cases = {
            "delta on the wrong base": pb.WatchResponse(config_hash="h2", base_hash="other",
                                                        last_chunk=True),
            "no hash": pb.WatchResponse(full=True, last_chunk=True),
            "first chunk index 1": pb.WatchResponse(config_hash="h2", full=True, chunk_index=1),
            "removals in a full": pb.WatchResponse(config_hash="h2", full=True,
                                                   removals=[pb.EntityRef()]),
            "unlisted type": pb.WatchResponse(config_hash="h2", full=True,
                                              upserts=[entity("x", "1")]),
        }
        for name, chunk in cases.items():
            with self.subTest(name):
                a = Assembler(Snapshot(config_hash="h1"))
                with self.assertRaises(UpdateError):
                    a.add(chunk)
                self.assertEqual(a.current.config_hash, "h1")


if __name__ == "__main__":
    unittest.main()
