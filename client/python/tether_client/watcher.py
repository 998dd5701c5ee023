"""ConfigWatcher: what a Python proxy uses to follow tether's config. The Python twin of
client/lib/config_watcher.h, with the same semantics: one Watch stream open at a time, chunks
assembled into immutable Snapshots, every update acked (or nacked when the proxy refuses it),
and after the stream breaks a reconnect with jittered backoff that resumes with the hash held,
so a tether restart that changed nothing costs no resend.

Threading: run() and iteration run every callback on the calling thread, one at a time; start()
does the same on a thread of its own. stop() and snapshot may be used from any thread.
"""

from __future__ import annotations

import enum
import os
import queue
import random
import threading
from typing import Callable, Generator, Iterator, List, Optional, Sequence, Tuple

import grpc

from . import _proto
from ._proto import config_pb2, config_pb2_grpc
from .mirror import Assembler, Snapshot, UpdateError

# The sidecar's default socket (the default --data-dir).
DEFAULT_TARGET = "unix:///var/lib/tether/tether.sock"
# After nacking an update that could not be assembled the watcher half-closes the stream so that
# tether reads the nack before the stream goes; if tether keeps it open longer, it is cancelled.
NACK_GRACE_SECONDS = 1.0


class Mode(enum.Enum):
    """How updates after the first arrive. Either way callbacks get a whole Snapshot."""

    FULL = _proto.MODE_FULL  # every update is a full snapshot of the subscribed types
    DELTA = _proto.MODE_DELTA  # only what changed; the watcher applies it to its snapshot


class WatchError(Exception):
    """Why a Watch stream ended; the watcher starts the next one by itself. `code` follows gRPC
    (UNAVAILABLE when tether is unreachable or ended the stream, INVALID_ARGUMENT for an update
    that could not be assembled, which the watcher nacks before resubscribing for a full one)."""

    def __init__(self, code: grpc.StatusCode, message: str):
        super().__init__(message)
        self.code = code


OnUpdate = Callable[[Snapshot], None]
OnError = Callable[[WatchError, float], None]


class _Backoff:
    """Delays uniform in [d/2, d], d starting at `low` and doubling per failure up to `high`."""

    def __init__(self, low: float, high: float):
        self._low, self._high, self._failures = low, high, 0

    def reset(self) -> None:
        self._failures = 0

    def next(self) -> float:
        ceiling = min(self._high, self._low * 2 ** min(self._failures, 32))
        self._failures += 1
        return random.uniform(ceiling / 2, ceiling)


def _requests(outbox: "queue.Queue[Optional[config_pb2.WatchRequest]]"
              ) -> Iterator[config_pb2.WatchRequest]:
    # None half-closes the stream.
    while (request := outbox.get()) is not None:
        yield request


class ConfigWatcher:
    """Subscribes to tether's config and keeps the subscription up until stop().

    Callback style (on_update raises to nack; the snapshot stays the watcher's state either way,
    and the next update is relative to it):

        watcher = ConfigWatcher("unix:///var/lib/tether/tether.sock", "my-proxy@pod-1",
                                mode=Mode.DELTA, on_update=proxy.apply)
        watcher.start()  # or watcher.run() to block

    Iterator style (each snapshot is acked when the next one is asked for, unless nack() refused
    it):

        for snapshot in ConfigWatcher(target, "my-proxy@pod-1"):
            proxy.apply(snapshot)

    While a callback or loop body runs the watcher reads no further updates, so tether coalesces
    the changes made meanwhile into the next one.
    """

    def __init__(self, target: str = DEFAULT_TARGET, client_id: str = "", *,
                 entity_types: Sequence[str] = (), mode: Mode = Mode.FULL,
                 on_update: Optional[OnUpdate] = None, on_error: Optional[OnError] = None,
                 tls_ca: Optional[str] = None, tls_cert: Optional[str] = None,
                 tls_key: Optional[str] = None, tls_server_name: Optional[str] = None,
                 backoff_min: float = 0.1, backoff_max: float = 10.0,
                 resume_from: Optional[Snapshot] = None):
        """target: "unix:///path/tether.sock" or "host:port". client_id names this client in
        tether's status (required). entity_types: types to receive, empty for all. tls_*: PEM
        files for a TLS listener (tls_ca verifies tether; tls_cert and tls_key authenticate this
        client); without tls_ca the channel is plaintext. backoff_*: seconds before reconnecting,
        0 < backoff_min <= backoff_max. resume_from: a snapshot kept from an earlier run."""
        if not target:
            raise ValueError("watcher target is empty")
        if not client_id:
            raise ValueError("watcher client_id is empty: name the client (tether shows it in "
                             "its status)")
        if not 0 < backoff_min <= backoff_max:
            raise ValueError(f"watcher backoff must satisfy 0 < min <= max; got min "
                             f"{backoff_min}, max {backoff_max}")
        if (tls_cert is None) != (tls_key is None) or (tls_cert and not tls_ca):
            raise ValueError("tls_cert and tls_key go together, and need tls_ca")
        self._client_id = client_id
        self._entity_types = list(entity_types)
        self._mode = mode
        self._on_update = on_update
        self._on_error = on_error
        self._backoff = _Backoff(backoff_min, backoff_max)
        # gRPC's own reconnect backoff (1 s growing to 120 s) would find a restarted tether late.
        options = [("grpc.initial_reconnect_backoff_ms", int(backoff_min * 1000)),
                   ("grpc.min_reconnect_backoff_ms", int(backoff_min * 1000)),
                   ("grpc.max_reconnect_backoff_ms", int(backoff_max * 1000))]
        if tls_ca and tls_server_name:
            options.append(("grpc.ssl_target_name_override", tls_server_name))
        self._target = target
        self._channel_options = options
        self._tls = (tls_ca, tls_cert, tls_key) if tls_ca else None
        self._tls_stamp: List[Tuple[int, int]] = []
        self._open_channel()
        # False after an update could not be assembled, until a stream delivers one: resubscribe
        # without resume_hash to get a full update.
        self._resume = True
        self._held = resume_from if resume_from is not None else Snapshot()
        self._nack_error: Optional[str] = None
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._call: Optional[grpc.Call] = None
        self._thread: Optional[threading.Thread] = None

    @property
    def snapshot(self) -> Snapshot:
        """The snapshot last delivered (resume_from, or an empty one, before the first)."""
        with self._lock:
            return self._held

    def run(self) -> None:
        """Delivers updates to on_update until stop()."""
        if self._on_update is None:
            raise ValueError("run() needs on_update; iterate over the watcher instead")
        updates = self._updates()
        try:
            snapshot = next(updates)
            while True:
                try:
                    self._on_update(snapshot)
                    verdict = None
                except Exception as e:  # the proxy refused it: nack, keep going
                    verdict = f"on_update raised {type(e).__name__}: {e}"
                snapshot = updates.send(verdict)
        except StopIteration:
            pass

    def start(self) -> "ConfigWatcher":
        """Runs run() on a daemon thread; stop() ends it."""
        self._thread = threading.Thread(target=self.run, name=f"tether-watch-{self._client_id}",
                                        daemon=True)
        self._thread.start()
        return self

    def __iter__(self) -> Iterator[Snapshot]:
        updates = self._updates()
        try:
            snapshot = next(updates)
            while True:
                self._nack_error = None
                yield snapshot
                snapshot = updates.send(self._nack_error)
        except StopIteration:
            pass
        finally:
            updates.close()

    def nack(self, error: str) -> None:
        """Iterator style: refuse the snapshot last yielded (tether shows `error` in status)."""
        self._nack_error = error or "refused"

    def stop(self) -> None:
        """Idempotent. Ends the stream and the backoff wait; joins the start() thread unless
        called from it."""
        self._stopping.set()
        with self._lock:
            call = self._call
        if call is not None:
            call.cancel()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()

    def close(self) -> None:
        self.stop()
        self._channel.close()

    def __enter__(self) -> "ConfigWatcher":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _updates(self) -> Generator[Snapshot, Optional[str], None]:
        """Yields each new snapshot and takes the verdict (None acks, a message nacks); between
        streams reports the error and waits out the backoff."""
        while not self._stopping.is_set():
            error, progressed = yield from self._stream()
            if error is None:  # stopped
                return
            if progressed:
                self._backoff.reset()
            delay = self._backoff.next()
            if self._on_error is not None:
                self._on_error(error, delay)
            if self._stopping.wait(delay):
                return
            if self._tls is not None and _stamp(self._tls) != self._tls_stamp:
                # Renewed certificates (cert-manager rotates them) serve the next connection
                # without restarting the watcher: gRPC channels keep the bytes they were given.
                self._channel.close()
                self._open_channel()

    def _open_channel(self) -> None:
        if self._tls is not None:
            self._tls_stamp = _stamp(self._tls)
            self._channel = grpc.secure_channel(self._target, _credentials(*self._tls),
                                                self._channel_options)
        else:
            self._channel = grpc.insecure_channel(self._target, self._channel_options)
        # A connection attempt progresses only while something polls the channel. Between
        # Watch calls nothing would: a call fails at once while the channel is in
        # TRANSIENT_FAILURE, so a TCP connect or TLS handshake to a restarted tether would run
        # into its deadline again and again. A subscription keeps a thread polling until close().
        self._channel.subscribe(_ignore_connectivity)
        self._stub = config_pb2_grpc.ConfigServiceStub(self._channel)

    def _stream(self) -> Generator[Snapshot, Optional[str], Tuple[Optional[WatchError], bool]]:
        """One Watch call. Returns why it ended (None when stopped) and whether it delivered."""
        subscribe = config_pb2.Subscribe(client_id=self._client_id,
                                         entity_types=self._entity_types, mode=self._mode.value)
        if self._resume:
            subscribe.resume_hash = self._held.config_hash
        outbox: "queue.Queue[Optional[config_pb2.WatchRequest]]" = queue.Queue()
        outbox.put(config_pb2.WatchRequest(subscribe=subscribe))
        call = self._stub.Watch(_requests(outbox))
        with self._lock:
            self._call = call
        if self._stopping.is_set():  # a stop() that came before self._call was set
            call.cancel()
        assembler = Assembler(self._held)
        progressed = False
        try:
            for chunk in call:
                try:
                    snapshot = assembler.add(chunk)
                except UpdateError as e:
                    outbox.put(config_pb2.WatchRequest(
                        nack=config_pb2.Nack(config_hash=chunk.config_hash, error=str(e))))
                    outbox.put(None)
                    self._resume = False
                    timer = threading.Timer(NACK_GRACE_SECONDS, call.cancel)
                    timer.start()
                    try:
                        for _ in call:  # drain until tether ends the stream or the grace ends
                            pass
                    except grpc.RpcError:
                        pass  # cancelled by the timer, or tether ended it with an error
                    timer.cancel()
                    return WatchError(grpc.StatusCode.INVALID_ARGUMENT,
                                      f"watch: update {chunk.config_hash}: {e}; nacked, "
                                      "resubscribing for a full update"), progressed
                if snapshot is None:
                    continue  # more chunks of this update to come
                with self._lock:
                    self._held = snapshot
                progressed, self._resume = True, True
                verdict = yield snapshot
                outbox.put(config_pb2.WatchRequest(ack=config_pb2.Ack(
                    config_hash=snapshot.config_hash)) if verdict is None else
                    config_pb2.WatchRequest(nack=config_pb2.Nack(
                        config_hash=snapshot.config_hash, error=verdict)))
            return WatchError(grpc.StatusCode.UNAVAILABLE,
                              "watch: tether ended the stream"), progressed
        except grpc.RpcError as e:
            if self._stopping.is_set():
                return None, progressed
            return WatchError(e.code(), f"watch: {e.details()}"), progressed
        finally:
            outbox.put(None)
            call.cancel()
            with self._lock:
                self._call = None


def _ignore_connectivity(_: grpc.ChannelConnectivity) -> None:
    """The subscription in _open_channel is for its polling; the states themselves are not
    needed (a Watch call's outcome tells what matters)."""


def _stamp(paths: Sequence[Optional[str]]) -> List[Tuple[int, int]]:
    """What tells a renewed file: its modification time and size (0s for a missing file, which
    the next _credentials then reports)."""
    stamps = []
    for path in paths:
        if path is None:
            stamps.append((0, 0))
            continue
        try:
            st = os.stat(path)
            stamps.append((st.st_mtime_ns, st.st_size))
        except OSError:
            stamps.append((0, 0))
    return stamps


def _credentials(ca: str, cert: Optional[str], key: Optional[str]) -> grpc.ChannelCredentials:
    def read(path: Optional[str]) -> Optional[bytes]:
        if path is None:
            return None
        with open(path, "rb") as f:
            return f.read()

    return grpc.ssl_channel_credentials(root_certificates=read(ca), private_key=read(key),
                                        certificate_chain=read(cert))
