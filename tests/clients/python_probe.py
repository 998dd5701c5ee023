"""The Python half of client_libs_test.py: tether_client.ConfigWatcher as a proxy would use it,
reporting what it receives so that the test can check it.

stdout, one JSON object a line: {"event": "update", "hash", "full", "base_hash", "source",
"entities": {type: {id: row}}, "metadata": {key: value}, "nacked"} per update;
{"event": "error", "code", "message", "retry_in"} when a stream ends; {"event": "nack-armed"}.
stdin: a line "nack REASON" makes the next update refused with REASON.

Usage: python_probe.py --target T --client-id ID [--types a,b] [--mode full|delta]
       [--style callback|iterator] [--tls-ca PEM [--tls-cert PEM --tls-key PEM]
       [--tls-server-name N]]   (PYTHONPATH: client/python and the generated tether.v1)
"""

import argparse
import json
import sys
import threading
from typing import Optional

from tether_client import ConfigWatcher, Mode, Snapshot, WatchError
from tether_client._proto import config_pb2

lock = threading.Lock()
armed_nack: Optional[str] = None


def emit(event: dict) -> None:
    with lock:
        print(json.dumps(event), flush=True)


def read_commands() -> None:
    global armed_nack
    for line in sys.stdin:
        if line.startswith("nack "):
            with lock:
                armed_nack = line[len("nack "):].strip()
            emit({"event": "nack-armed"})


def take_nack() -> Optional[str]:
    global armed_nack
    with lock:
        reason, armed_nack = armed_nack, None
    return reason


def report(snapshot: Snapshot, nacked: bool) -> None:
    emit({"event": "update", "hash": snapshot.config_hash, "full": snapshot.update.full,
          "base_hash": snapshot.update.base_hash,
          "source": config_pb2.Source.Name(snapshot.source),
          "entities": {t: snapshot.rows(t) for t in snapshot.entities},
          "metadata": {k: json.loads(v) for k, v in snapshot.metadata.items()},
          "nacked": nacked})


def on_update(snapshot: Snapshot) -> None:
    reason = take_nack()
    report(snapshot, reason is not None)
    if reason is not None:
        raise RuntimeError(reason)


def on_error(error: WatchError, retry_in: float) -> None:
    emit({"event": "error", "code": error.code.name, "message": str(error), "retry_in": retry_in})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--target", required=True)
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--types", default="")
    parser.add_argument("--mode", choices=("full", "delta"), default="full")
    parser.add_argument("--style", choices=("callback", "iterator"), default="callback")
    for flag in ("ca", "cert", "key", "server-name"):
        parser.add_argument(f"--tls-{flag}")
    args = parser.parse_args()
    threading.Thread(target=read_commands, daemon=True).start()
    watcher = ConfigWatcher(args.target, args.client_id,
                            entity_types=[t for t in args.types.split(",") if t],
                            mode=Mode.DELTA if args.mode == "delta" else Mode.FULL,
                            tls_ca=args.tls_ca, tls_cert=args.tls_cert, tls_key=args.tls_key,
                            tls_server_name=args.tls_server_name,
                            on_update=on_update, on_error=on_error, backoff_max=1.0)
    if args.style == "callback":
        watcher.run()
        return
    for snapshot in watcher:
        reason = take_nack()
        report(snapshot, reason is not None)
        if reason is not None:
            watcher.nack(reason)


if __name__ == "__main__":
    main()
