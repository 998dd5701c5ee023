"""End to end: the built tether-devcp, tether and tetherctl, and an independent Python client.

Starts tether-devcp (a free port, shared mTLS with the test cluster certificate, the example config)
and tether (a temp data dir, the gRPC API on a unix socket in it), waits for tether's health check
to say SERVING, then runs interop_client.py (Python gRPC, stubs generated from proto/ here) and
checks tetherctl's status, get, health and watch against what the CP serves. Last, tether must stop
cleanly on SIGTERM.

Every wait polls a real endpoint or process under a deadline; nothing sleeps to synchronise.
Child processes get SIGTERM if this script dies (PR_SET_PDEATHSIG), so a CTest timeout leaves
nothing behind.

Exit status: 0 pass, 1 fail, 77 skip (/usr/bin/python3 lacks grpc; CTest SKIP_RETURN_CODE).
"""

import argparse
import ctypes
import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

SKIP = 77
DEADLINE_SECONDS = 30
PR_SET_PDEATHSIG = 1


class TestFailure(Exception):
    pass


def check(condition, message):
    if not condition:
        raise TestFailure(message)


def die_with_parent():
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class Process:
    """A child whose stderr is copied to a log file and scanned line by line."""

    def __init__(self, name, argv, log_dir, env):
        self.name = name
        self.log_path = os.path.join(log_dir, f"{name}.log")
        self.lines = queue.Queue()
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True, env=env,
                                     preexec_fn=die_with_parent)
        self.reader = threading.Thread(target=self._copy, daemon=True)
        self.reader.start()

    def _copy(self):
        with open(self.log_path, "w") as log:
            for line in self.proc.stderr:
                log.write(line)
                log.flush()
                self.lines.put(line)

    def await_line(self, pattern, deadline):
        while True:
            left = deadline - time.monotonic()
            check(left > 0, f"{self.name} did not log /{pattern}/ in time")
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                continue
            match = re.search(pattern, line)
            if match:
                return match

    def check_running(self):
        check(self.proc.poll() is None,
              f"{self.name} exited early with {self.proc.returncode}; log:\n{self.log()}")

    def stop(self, timeout=15):
        """SIGTERM, then the exit code (SIGKILL and None when it does not stop in time)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                return None
        self.reader.join(timeout=5)
        return self.proc.returncode

    def log(self):
        try:
            with open(self.log_path) as f:
                return f.read()
        except OSError:
            return ""


def run(argv, timeout=DEADLINE_SECONDS):
    return subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=timeout)


def entities_by_type(config):
    """A Kong flat config as {type: {id: row}} for its non-empty collections."""
    out = {}
    for key, value in config.items():
        if isinstance(value, list) and value:
            out[key] = {(row["key"] if key == "parameters" else row["id"]): row for row in value}
    return out


def main():
    parser = argparse.ArgumentParser()
    for flag in ("tether", "devcp", "tetherctl", "fixtures", "source", "work"):
        parser.add_argument(f"--{flag}", required=True)
    args = parser.parse_args()

    try:
        import grpc  # noqa: F401
        import grpc_tools  # noqa: F401
    except ImportError as e:
        print(f"SKIP: {sys.executable} lacks grpc ({e}); scripts/deps installs python3-grpcio "
              "python3-grpc-tools", file=sys.stderr)
        return SKIP

    # Stubs generated from the contract, as any third-party client would.
    pygen = os.path.join(args.work, "pygen")
    shutil.rmtree(pygen, ignore_errors=True)
    os.makedirs(pygen)
    protoc = run([sys.executable, "-m", "grpc_tools.protoc", "-I", os.path.join(args.source, "proto"),
                  "-I", "/usr/include", f"--python_out={pygen}", f"--grpc_python_out={pygen}",
                  "tether/v1/config.proto", "tether/v1/status.proto"])
    check(protoc.returncode == 0, f"grpc_tools.protoc failed:\n{protoc.stderr}")

    # A short path: unix socket paths are limited to 107 bytes.
    tmp = tempfile.mkdtemp(prefix="tether-e2e-")
    processes = []
    try:
        return run_test(args, pygen, tmp, processes)
    finally:
        for p in processes:
            p.stop()
        if os.environ.get("TETHER_E2E_KEEP"):
            print(f"kept {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def start_devcp(args, tmp, processes, deadline):
    """tether-devcp serving a copy of the example config (the file a test edits to push a change)
    on a free port. Returns its Process, the environment for child processes (without our
    TETHER_/KONG_ variables), the cluster certificate and key, the config's path, its content
    and the CP's port."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("TETHER_", "KONG_"))}
    cert = os.path.join(args.fixtures, "certs/kong_clustering.crt")
    key = os.path.join(args.fixtures, "certs/kong_clustering.key")
    cp_config = os.path.join(tmp, "cp-config.json")
    shutil.copyfile(os.path.join(args.source, "deploy/examples/kong-config.json"), cp_config)
    with open(cp_config) as f:
        original = json.load(f)
    # Port 0: the CP picks a free port and logs it.
    devcp = Process("tether-devcp", [args.devcp, "--listen", "127.0.0.1:0", "--mtls", "shared",
                                     "--cert", cert, "--key", key, "--config", cp_config],
                    tmp, env)
    processes.append(devcp)
    port = int(devcp.await_line(r"listening.*address=127\.0\.0\.1:(\d+)", deadline).group(1))
    return devcp, env, cert, key, cp_config, original, port


def run_test(args, pygen, tmp, processes):
    deadline = time.monotonic() + DEADLINE_SECONDS
    devcp, env, cert, key, cp_config, original, port = start_devcp(args, tmp, processes,
                                                                   deadline)

    data_dir = os.path.join(tmp, "data")
    addr = f"unix://{data_dir}/tether.sock"
    tether = Process("tether", [
        args.tether, f"--cluster-control-plane=127.0.0.1:{port}", "--cluster-mtls=shared",
        f"--cluster-cert={cert}", f"--cluster-cert-key={key}", f"--data-dir={data_dir}",
        f"--grpc-listen={addr}", "--node-hostname=e2e.local", "--ops-listen=127.0.0.1:0",
        "--reconnect-backoff-min=100ms", "--reconnect-backoff-max=1s"], tmp, env)
    processes.append(tether)

    def ctl(*argv, timeout=DEADLINE_SECONDS):
        return run([args.tetherctl, f"--addr={addr}", *argv], timeout=timeout)

    # Ready: health says SERVING once tether holds the CP's config.
    while True:
        devcp.check_running()
        tether.check_running()
        health = ctl("health", "--timeout=1s")
        if health.returncode == 0:
            break
        check(time.monotonic() < deadline,
              f"tether never became SERVING: {health.stdout}{health.stderr}\n"
              f"tether log:\n{tether.log()}")
        time.sleep(0.05)  # polling interval, not a synchronisation
    check(health.stdout.strip() == "SERVING", f"health printed {health.stdout!r}")

    # The independent client: full, ack, delta, ack, nack.
    client = run([sys.executable, os.path.join(os.path.dirname(__file__), "interop_client.py"),
                  "--addr", addr, "--cp-config", cp_config, "--pygen", pygen],
                 timeout=3 * DEADLINE_SECONDS)
    check(client.returncode == 0,
          f"interop client failed ({client.returncode}):\n{client.stderr}\n"
          f"tether log:\n{tether.log()}")
    summary = json.loads(client.stdout.strip().splitlines()[-1])
    current_hash = summary["config_hash"]
    check(re.fullmatch(r"[0-9a-f]{32}", current_hash), f"bad hash {current_hash!r}")
    check(current_hash != summary["first_hash"], "the config change did not change the hash")
    with open(cp_config) as f:
        changed = json.load(f)
    check(entities_by_type(changed) != entities_by_type(original), "the client changed nothing")

    # tetherctl status --json: protobuf JSON with the proto's field names.
    status = ctl("status", "--json")
    check(status.returncode == 0, f"status --json failed: {status.stderr}")
    doc = json.loads(status.stdout)
    check(doc["control_plane"]["state"] == "CONNECTION_STATE_CONNECTED",
          f"state {doc['control_plane']['state']}")
    check(doc["config"]["hash"] == current_hash,
          f"status hash {doc['config']['hash']}, client holds {current_hash}")
    check(doc["config"]["source"] == "SOURCE_CONTROL_PLANE", f"source {doc['config']['source']}")
    want_counts = {t: len(rows) for t, rows in entities_by_type(changed).items()}
    got_counts = {t: int(n) for t, n in doc["config"]["entity_counts"].items() if int(n)}
    check(got_counts == want_counts, f"entity_counts {got_counts}, served {want_counts}")
    check(doc["node"]["hostname"] == "e2e.local", f"node {doc['node']}")

    # tetherctl status: the human table.
    human = ctl("status")
    check(human.returncode == 0, f"status failed: {human.stderr}")
    for text in ("CONTROL PLANE", "CONNECTED", current_hash, "SUBSCRIBERS"):
        check(text in human.stdout, f"status output lacks {text!r}:\n{human.stdout}")

    # tetherctl get --json: the config exactly as served, in Kong's flat form.
    got = ctl("get", "--json")
    check(got.returncode == 0, f"get --json failed: {got.stderr}")
    doc = json.loads(got.stdout)
    check(doc["config_hash"] == current_hash, f"get hash {doc['config_hash']}")
    check(entities_by_type(doc["config"]) == entities_by_type(changed),
          "get --json entities differ from the served config")
    for meta in ("_format_version", "_transform"):
        check(doc["config"].get(meta) == changed[meta], f"get --json {meta}: {doc['config']}")

    # tetherctl get --type: only that type.
    routes = ctl("get", "--type", "routes")
    check(routes.returncode == 0, f"get --type routes failed: {routes.stderr}")
    rows = [line.split()[0] for line in routes.stdout.splitlines()[5:] if line.strip()]
    check(rows and set(rows) == {"routes"} and len(rows) == len(changed["routes"]),
          f"get --type routes listed:\n{routes.stdout}")

    # tetherctl watch: the first line is a full update at the current hash; SIGINT ends it with 0.
    watch = subprocess.Popen([args.tetherctl, f"--addr={addr}", "watch", "--delta"],
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, preexec_fn=die_with_parent)
    try:
        lines = queue.Queue()
        threading.Thread(target=lambda: lines.put(watch.stdout.readline()), daemon=True).start()
        line = lines.get(timeout=DEADLINE_SECONDS)
        check(f" {current_hash} full " in line, f"watch printed {line!r}")
        check(f"entities={sum(want_counts.values())}" in line, f"watch printed {line!r}")
        watch.send_signal(signal.SIGINT)
        check(watch.wait(timeout=DEADLINE_SECONDS) == 0, f"watch exit {watch.returncode}")
    finally:
        if watch.poll() is None:
            watch.kill()
            watch.wait()

    # Usage and reachability errors.
    usage = ctl("get", "--delta")
    check(usage.returncode == 2, f"usage error exit {usage.returncode}")
    missing = run([args.tetherctl, f"--addr=unix://{tmp}/missing.sock", "status"])
    check(missing.returncode == 1 and f"cannot reach tether at unix://{tmp}/missing.sock"
          in missing.stderr, f"unreachable: exit {missing.returncode}, {missing.stderr!r}")

    # tether stops cleanly on SIGTERM, within its deadline.
    code = tether.stop(timeout=DEADLINE_SECONDS)
    check(code == 0, f"tether exited with {code} on SIGTERM; log:\n{tether.log()}")
    print(f"PASS: hash {current_hash}, {summary['entities']} entities")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except TestFailure as e:
        print(f"FAIL: {e}", file=sys.stderr)
        sys.exit(1)
