"""The Python and Go client libraries (client/python, client/go) against a real tether fed by
tether-devcp.

One scenario, run for the client named by --client through its probe (python_probe.py or
go_probe/, which print what the library delivers): two watchers, one in DELTA mode for all types
on tether's unix socket and one in FULL mode filtered to routes and services over mutual TLS on a
TCP listener (certificates made here with openssl, for the name tether.test), must
1. get a full first update equal to what the CP serves (only the filtered types for the second);
2. follow a config change: a delta from the first hash, and a full update;
3. refuse an update (the callback raises / returns an error): tether's status shows the nack;
4. resume after a tether restart on the same data dir: the first update after it is the next
   change, a delta from the hash held before the restart (no resend).
A third watcher on the TLS listener without a client certificate must be refused.
First each library's unit tests run; for Go after building offline from Debian's packages
(GOPATH mode), `go vet`, and a check that the committed generated code matches proto/.

Exit status: 0 pass, 1 fail. Missing toolchains fail: scripts/deps installs them.
"""

import argparse
import copy
import filecmp
import json
import os
import queue
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
from interop_client import changed_config, expected_state, write_atomically  # noqa: E402
from interop_test import (Process, TestFailure, check, die_with_parent, run,  # noqa: E402
                          start_devcp)

DEADLINE_SECONDS = 30
GO_MODULE = "github.com/tether-sidecar/tether/client/go"
FILTER = ("routes", "services")
SERVER_NAME = "tether.test"


class Probe:
    """A probe process: JSON events from its stdout, commands to its stdin."""

    def __init__(self, name, argv, log_dir, env):
        self.name = name
        self.events = queue.Queue()
        self.log_path = os.path.join(log_dir, f"{name}.log")
        self.stderr = open(self.log_path, "w")
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.stderr, text=True, env=env,
                                     preexec_fn=die_with_parent)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.events.put(json.loads(line))

    def send(self, line):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def await_event(self, kind):
        """The next event of `kind`; updates may not be skipped (any update is returned)."""
        deadline = time.monotonic() + DEADLINE_SECONDS
        while True:
            left = deadline - time.monotonic()
            check(left > 0 and self.proc.poll() is None,
                  f"{self.name}: no {kind} event (exit {self.proc.poll()})")
            try:
                event = self.events.get(timeout=min(left, 1))
            except queue.Empty:
                continue
            if event["event"] == kind or event["event"] == "update":
                check(event["event"] == kind, f"{self.name}: unexpected update {event}")
                return event

    def log(self):
        with open(self.log_path) as f:
            return f.read()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.stderr.close()


def build_go(args, work):
    """Builds the Go probe offline; returns its argv prefix."""
    go = shutil.which("go")
    check(go is not None, "go is not installed: scripts/deps installs golang-go")
    gopath = os.path.join(work, "gopath")
    link = os.path.join(gopath, "src", GO_MODULE)
    os.makedirs(os.path.dirname(link), exist_ok=True)
    if not os.path.islink(link):
        os.symlink(os.path.join(args.source, "client", "go"), link)
    env = {**os.environ, "GO111MODULE": "off", "GOPATH": f"{gopath}:/usr/share/gocode",
           "GOPROXY": "off", "GOFLAGS": "", "GOCACHE": os.path.join(work, "gocache")}

    def go_run(*argv, cwd=link):
        done = subprocess.run([go, *argv], cwd=cwd, env=env, capture_output=True, text=True,
                              timeout=240)
        check(done.returncode == 0, f"go {' '.join(argv)} failed:\n{done.stdout}{done.stderr}")

    generated = os.path.join(work, "go-generated")
    shutil.rmtree(generated, ignore_errors=True)
    regen = run([os.path.join(link, "generate.sh"), generated])
    check(regen.returncode == 0, f"client/go/generate.sh failed:\n{regen.stderr}")
    diff = filecmp.dircmp(os.path.join(generated, "tetherv1"), os.path.join(link, "tetherv1"))
    check(not (diff.diff_files or diff.left_only or diff.right_only),
          f"client/go/tetherv1 is stale ({diff.diff_files + diff.left_only + diff.right_only}): "
          "run client/go/generate.sh")
    go_run("vet", GO_MODULE, f"{GO_MODULE}/tetherv1")
    go_run("test", GO_MODULE)
    probe = os.path.join(work, "go_probe")
    go_run("vet", "./go_probe/main.go", cwd=os.path.dirname(os.path.abspath(__file__)))
    go_run("build", "-o", probe, "./go_probe/main.go",
           cwd=os.path.dirname(os.path.abspath(__file__)))
    return [probe], dict(os.environ)


def build_python(args, work):
    """Generates tether.v1 into the build dir; returns the probe's argv prefix and env."""
    sys.path.insert(0, os.path.join(args.source, "client", "python"))
    from generate_protos import generate
    pygen = os.path.join(work, "pygen")
    shutil.rmtree(pygen, ignore_errors=True)
    generate(pygen, os.path.join(args.source, "proto"))
    package = os.path.join(args.source, "client", "python")
    env = {**os.environ, "PYTHONPATH": f"{pygen}:{package}", "PYTHONDONTWRITEBYTECODE": "1"}
    unit = subprocess.run([sys.executable, "-m", "unittest", "discover", "-s",
                           os.path.join(package, "tests")], env=env, capture_output=True,
                          text=True, timeout=60)
    check(unit.returncode == 0, f"client/python unit tests failed:\n{unit.stderr}")
    return [sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                         "python_probe.py")], env


def make_certs(tmp):
    """A CA, tether's server certificate for SERVER_NAME (and 127.0.0.1), and a client certificate
    it issued; returns {name: (cert path, key path)} for "ca", "server" and "client"."""
    paths = {}
    for name, subject, extensions in (
            ("ca", "tether test CA", ()),
            ("server", SERVER_NAME, ("basicConstraints=critical,CA:FALSE",
                                     f"subjectAltName=DNS:{SERVER_NAME},IP:127.0.0.1",
                                     "extendedKeyUsage=serverAuth")),
            ("client", "client-libs probe", ("basicConstraints=critical,CA:FALSE",
                                             "extendedKeyUsage=clientAuth"))):
        cert, key = os.path.join(tmp, f"grpc-{name}.crt"), os.path.join(tmp, f"grpc-{name}.key")
        issuer = [] if name == "ca" else ["-CA", paths["ca"][0], "-CAkey", paths["ca"][1]]
        done = run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-days", "1", "-subj", f"/CN={subject}",
                    "-keyout", key, "-out", cert, *issuer,
                    *(arg for ext in extensions for arg in ("-addext", ext))])
        check(done.returncode == 0, f"openssl could not make the {name} certificate:\n"
              f"{done.stderr}")
        paths[name] = (cert, key)
    return paths


def free_port():
    """A TCP port free now on 127.0.0.1: tether must listen on the same one after its restart,
    where the TLS watcher reconnects, so port 0 will not do."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bump_retries(config):
    new = copy.deepcopy(config)
    new["services"][0]["retries"] = new["services"][0].get("retries", 5) + 1
    return new


def check_state(event, config, types, what):
    metadata, entities = expected_state(config)
    want = {t: rows for t, rows in entities.items() if rows and (not types or t in types)}
    held = {t: rows for t, rows in event["entities"].items() if rows}
    check(held == want, f"{what}: holds types {sorted(held)} "
          f"({sum(map(len, held.values()))} rows), served {sorted(want)} "
          f"({sum(map(len, want.values()))} rows), or rows differ")
    check(event["metadata"] == metadata, f"{what}: metadata {event['metadata']} != {metadata}")
    if types:
        check(set(event["entities"]) <= set(types), f"{what}: unfiltered types "
              f"{sorted(event['entities'])}")


def main():
    parser = argparse.ArgumentParser()
    for flag in ("tether", "devcp", "tetherctl", "fixtures", "source", "work"):
        parser.add_argument(f"--{flag}", required=True)
    parser.add_argument("--client", choices=("python", "go"), required=True)
    args = parser.parse_args()
    work = os.path.join(args.work, args.client)
    os.makedirs(work, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f"tether-{args.client}-")  # short: unix socket paths
    processes = []
    try:
        probe_argv, probe_env = (build_go if args.client == "go" else build_python)(args, work)
        run_scenario(args, tmp, processes, probe_argv, probe_env)
    except TestFailure as e:
        print(f"FAIL ({args.client}): {e}", file=sys.stderr)
        for p in processes:
            print(f"--- {p.name} log:\n{p.log()[-4000:]}", file=sys.stderr)
        return 1
    finally:
        for p in reversed(processes):
            p.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"PASS ({args.client})")
    return 0


def run_scenario(args, tmp, processes, probe_argv, probe_env):
    _, env, cert, key, cp_config, served, port = start_devcp(
        args, tmp, processes, time.monotonic() + DEADLINE_SECONDS)
    data_dir = os.path.join(tmp, "data")
    target = f"unix://{data_dir}/tether.sock"
    tls_target = f"127.0.0.1:{free_port()}"
    certs = make_certs(tmp)

    def start_tether(name):
        tether = Process(name, [
            args.tether, f"--cluster-control-plane=127.0.0.1:{port}", "--cluster-mtls=shared",
            f"--cluster-cert={cert}", f"--cluster-cert-key={key}", f"--data-dir={data_dir}",
            f"--grpc-listen={target}", f"--grpc-listen={tls_target}",
            f"--grpc-tls-cert={certs['server'][0]}", f"--grpc-tls-key={certs['server'][1]}",
            f"--grpc-client-ca={certs['ca'][0]}", "--ops-listen=127.0.0.1:0",
            "--reconnect-backoff-min=100ms", "--reconnect-backoff-max=1s"], tmp, env)
        processes.append(tether)
        return tether

    def status():
        done = run([args.tetherctl, f"--addr={target}", "status", "--json"])
        return json.loads(done.stdout) if done.returncode == 0 else None

    def await_status(predicate, what):
        deadline = time.monotonic() + DEADLINE_SECONDS
        while time.monotonic() < deadline:
            doc = status()
            if doc is not None and predicate(doc):
                return doc
            time.sleep(0.05)  # polling interval, not a synchronisation
        raise TestFailure(f"status never showed {what}; last: {status()}")

    def subscriber(doc, client_id):
        return next((s for s in doc.get("subscribers", []) if s["client_id"] == client_id), {})

    tether = start_tether("tether")
    await_status(lambda d: d.get("config", {}).get("source", "").endswith("CONTROL_PLANE"),
                 "the CP's config applied")

    delta_id, full_id = f"{args.client}-delta", f"{args.client}-filtered"
    delta = Probe(delta_id, [*probe_argv, "--target", target, "--client-id", delta_id,
                             "--mode", "delta"], tmp, probe_env)
    processes.append(delta)
    server_tls = ["--tls-ca", certs["ca"][0], "--tls-server-name", SERVER_NAME]
    client_tls = ["--tls-cert", certs["client"][0], "--tls-key", certs["client"][1]]
    full_argv = [*probe_argv, "--target", tls_target, *server_tls, *client_tls,
                 "--client-id", full_id, "--mode", "full", "--types", ",".join(FILTER)]
    if args.client == "python":
        full_argv += ["--style", "iterator"]
    full = Probe(full_id, full_argv, tmp, probe_env)
    processes.append(full)

    # 1. Full snapshots, filtered for the second watcher; both acked.
    first_delta, first_full = delta.await_event("update"), full.await_event("update")
    for event, types, who in ((first_delta, (), delta_id), (first_full, FILTER, full_id)):
        check(event["full"] and event["source"].endswith("CONTROL_PLANE"),
              f"{who}: first update {event['full']=} {event['source']=}")
        check_state(event, served, types, f"{who} first update")
    h1 = first_delta["hash"]
    check(first_full["hash"] == h1, f"hashes differ: {h1} {first_full['hash']}")
    await_status(lambda d: subscriber(d, delta_id).get("acked_hash") == h1
                 and subscriber(d, full_id).get("acked_hash") == h1, f"both acks of {h1}")

    # Without a client certificate the TLS listener refuses the watcher: no update, an error.
    anonymous = Probe(f"{args.client}-no-client-cert",
                      [*probe_argv, "--target", tls_target, *server_tls, "--client-id",
                       f"{args.client}-no-client-cert"], tmp, probe_env)
    processes.append(anonymous)
    refused = anonymous.await_event("error")
    check(refused["code"].upper() == "UNAVAILABLE", f"no client certificate: {refused}")
    anonymous.stop()

    # 2. A change: a delta from h1, and a full update.
    changed = changed_config(served)
    write_atomically(cp_config, changed)
    d2, f2 = delta.await_event("update"), full.await_event("update")
    check(not d2["full"] and d2["base_hash"] == h1,
          f"delta watcher got full={d2['full']} base {d2['base_hash']}, want a delta from {h1}")
    check(f2["full"], "the FULL-mode watcher got a delta")
    check_state(d2, changed, (), f"{delta_id} after the delta")
    check_state(f2, changed, FILTER, f"{full_id} after the change")
    h2 = d2["hash"]

    # 3. NACK: the delta watcher's callback refuses the next update.
    delta.send("nack probe refused it")
    delta.await_event("nack-armed")
    changed = bump_retries(changed)
    write_atomically(cp_config, changed)
    d3, f3 = delta.await_event("update"), full.await_event("update")
    check(d3["nacked"] and d3["base_hash"] == h2, f"{delta_id}: {d3['nacked']=} {d3['base_hash']=}")
    h3 = d3["hash"]
    check_state(d3, changed, (), f"{delta_id} at the nacked update")
    check_state(f3, changed, FILTER, f"{full_id} at the update the other watcher nacked")
    sub = await_status(lambda d: subscriber(d, delta_id).get("nacked_hash") == h3
                       and subscriber(d, full_id).get("acked_hash") == h3,
                       f"the nack of {h3} and the filtered watcher's ack")
    check("probe refused it" in subscriber(sub, delta_id).get("nack_error", ""),
          f"nack_error {subscriber(sub, delta_id).get('nack_error')!r}")
    await_status(lambda d: d["config"]["hash"] == h3, f"tether applied {h3}")

    # 4. Restart tether on the same data dir: both watchers reconnect and resume with h3.
    check(tether.stop() == 0, "tether did not stop cleanly")
    delta.await_event("error")
    full.await_event("error")
    tether = start_tether("tether-restarted")
    await_status(lambda d: subscriber(d, delta_id) and subscriber(d, full_id),
                 "both watchers subscribed again")
    changed = bump_retries(changed)
    write_atomically(cp_config, changed)
    d4, f4 = delta.await_event("update"), full.await_event("update")
    check(d4["hash"] != h3 and not d4["full"] and d4["base_hash"] == h3,
          f"{delta_id} after the restart: {d4['hash']=} {d4['full']=} {d4['base_hash']=}; want "
          f"the next change as a delta from {h3}")
    check(f4["hash"] == d4["hash"], f"{full_id} after the restart got {f4['hash']}, not the "
          f"change {d4['hash']} (a resend of {h3}?)")
    check_state(d4, changed, (), f"{delta_id} after the restart")
    check_state(f4, changed, FILTER, f"{full_id} after the restart")
    await_status(lambda d: subscriber(d, delta_id).get("acked_hash") == d4["hash"]
                 and subscriber(d, full_id).get("acked_hash") == d4["hash"],
                 "both acks after the restart")


if __name__ == "__main__":
    sys.exit(main())
