#!/usr/bin/env python3
"""Checks deploy/compose.yaml on a machine without a Docker engine.

Every service in compose.yaml shares the host's network, so a container differs from a local
process only in its file system. This script therefore runs each service's entrypoint and
command as a local process, with the same environment, named volumes as temporary directories
and bind mounts as the repository's files (container paths in arguments and environment are
rewritten to those), in dependency order, waiting for health checks and one-shot services as
compose would. It then smoke-tests the result through the `probity` tool service, as an
operator would with `docker compose run --rm probity …`: a clerk key is enrolled over NATS, a
purchase request recorded, and projectord and the web console (`probity serve --nats`, from
its own verified copy) must show it. Finally it stops the services in reverse order with their
stop signals and requires ledgerd, projectord and the console to exit cleanly.

What it cannot check here: that deploy/Dockerfile builds and that the images exist (no
engine); the binaries it runs are this checkout's release build (target/release), and
nats-server is the machine's.

Usage: deploy/compose-check.py   (exits non-zero, with the services' logs, on any failure)
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
RELEASE = os.path.join(ROOT, "target", "release")
OUR_BINARIES = {"probity", "ledgerd", "projectord", "replay"}
CLERK = "nats://clerk:clerk-trial-password@127.0.0.1:14222"
CONSOLE = "http://127.0.0.1:18080"


def fail(message):
    raise SystemExit(f"compose-check: {message}")


def seconds(duration, default):
    """Compose durations as used here: '2s', '30s', '1m'."""
    if duration is None:
        return default
    match = re.fullmatch(r"(\d+)(ms|s|m)", str(duration))
    if not match:
        fail(f"unsupported duration {duration!r}")
    value, unit = int(match.group(1)), match.group(2)
    return value / 1000 if unit == "ms" else value * (60 if unit == "m" else 1)


def as_list(value):
    if value is None:
        return []
    return value if isinstance(value, list) else value.split()


class Compose:
    def __init__(self, path, work):
        with open(path) as f:
            self.spec = yaml.safe_load(f)
        self.services = self.spec["services"]
        self.work = work
        self.logs = {}
        self.running = []  # (name, Popen), in start order

    def check_static(self):
        declared = set(self.spec.get("volumes") or {})
        for name, service in self.services.items():
            if service.get("network_mode") != "host":
                fail(f"{name}: network_mode must be host (the configs listen on loopback)")
            for dependency in service.get("depends_on") or {}:
                if dependency not in self.services:
                    fail(f"{name} depends on {dependency}, which is no service")
            for volume in service.get("volumes") or []:
                source = volume.split(":")[0]
                if source.startswith("."):
                    if not os.path.exists(os.path.join(HERE, source)):
                        fail(f"{name}: bind mount source {source} does not exist in deploy/")
                elif source not in declared:
                    fail(f"{name}: volume {source} is not declared under volumes:")
            build = service.get("build")
            if build:
                dockerfile = os.path.join(HERE, build["context"], build["dockerfile"])
                if not os.path.exists(dockerfile):
                    fail(f"{name}: {build['dockerfile']} does not exist")
                with open(dockerfile) as f:
                    copied = set(re.findall(r"target/release/(\w+)", f.read()))
                if not OUR_BINARIES <= copied:
                    fail(f"the image lacks {sorted(OUR_BINARIES - copied)}")
        print(f"ok   compose.yaml: {len(self.services)} services, host network, mounts and volumes declared")

    def mounts(self, name):
        """Container path -> host path, longest container path first."""
        table = {}
        for volume in self.services[name].get("volumes") or []:
            source, target = volume.split(":")[:2]
            if source.startswith("."):
                host = os.path.normpath(os.path.join(HERE, source))
            else:
                host = os.path.join(self.work, "volumes", source)
                os.makedirs(host, exist_ok=True)
            table[target] = host
        return sorted(table.items(), key=lambda item: -len(item[0]))

    def translate(self, name, text):
        for container, host in self.mounts(name):
            text = re.sub(
                r"(?<![\w./-])" + re.escape(container) + r"(?=/|$|[^\w.-])",
                lambda _: host,
                text,
            )
        return text

    def argv(self, name, extra=None):
        service = self.services[name]
        words = as_list(service.get("entrypoint")) + as_list(
            extra if extra is not None else service.get("command")
        )
        words = [self.translate(name, word) for word in words]
        if words[0] in OUR_BINARIES:
            words[0] = os.path.join(RELEASE, words[0])
        elif shutil.which(words[0]) is None:
            fail(f"{name}: {words[0]} is not on this machine")
        return words

    def env(self, name):
        env = dict(os.environ)
        env["PATH"] = RELEASE + os.pathsep + env["PATH"]
        for key, value in (self.services[name].get("environment") or {}).items():
            env[key] = self.translate(name, str(value))
        return env

    def log(self, name):
        path = os.path.join(self.work, f"{name}.log")
        self.logs[name] = path
        return open(path, "ab")

    def run_once(self, name, extra=None, timeout=60):
        result = subprocess.run(
            self.argv(name, extra),
            env=self.env(name),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            timeout=timeout,
        )
        text = result.stdout.decode(errors="replace")
        with self.log(name) as log:
            log.write(result.stdout)
        return result.returncode, text

    def healthy(self, name):
        check = self.services[name].get("healthcheck")
        if not check:
            return True
        test = check["test"]
        if test[0] not in ("CMD", "CMD-SHELL"):
            fail(f"{name}: healthcheck test must start with CMD or CMD-SHELL")
        words = [self.translate(name, word) for word in test[1:]]
        if test[0] == "CMD-SHELL":
            words = ["sh", "-c", " ".join(words)]
        interval = seconds(check.get("interval"), 30)
        for _ in range(int(check.get("retries", 3)) + 1):
            done = subprocess.run(words, env=self.env(name), capture_output=True, timeout=30)
            if done.returncode == 0:
                return True
            time.sleep(interval)
        return False

    def start(self, name, started):
        if name in started:
            return
        for dependency, condition in (self.services[name].get("depends_on") or {}).items():
            self.start(dependency, started)
            want = condition.get("condition", "service_started")
            if want == "service_healthy" and not self.healthy(dependency):
                fail(f"{dependency} did not become healthy")
        started.add(name)
        if self.is_one_shot(name):
            status, text = self.run_once(name)
            if status != 0:
                fail(f"{name} exited with {status}:\n{text}")
            print(f"ok   {name} completed")
            return
        process = subprocess.Popen(
            self.argv(name),
            env=self.env(name),
            stdout=self.log(name),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.running.append((name, process))
        print(f"ok   {name} started (pid {process.pid})")

    def is_one_shot(self, name):
        """A service others wait on with service_completed_successfully."""
        return any(
            (other.get("depends_on") or {}).get(name, {}).get("condition")
            == "service_completed_successfully"
            for other in self.services.values()
        )

    def up(self):
        started = set()
        for name, service in self.services.items():
            if "profiles" not in service:
                self.start(name, started)
        for name, _ in self.running:
            if not self.healthy(name):
                fail(f"{name} did not become healthy")
        for name, process in self.running:
            if process.poll() is not None:
                fail(f"{name} exited with {process.returncode}")

    def down(self):
        problems = []
        for name, process in reversed(self.running):
            service = self.services[name]
            stop = getattr(signal, service.get("stop_signal", "SIGTERM"))
            grace = seconds(service.get("stop_grace_period"), 10)
            if process.poll() is None:
                os.killpg(process.pid, stop)
            try:
                status = process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
                problems.append(f"{name} did not stop within {grace}s of {service.get('stop_signal', 'SIGTERM')}")
                continue
            if name in ("ledgerd", "projectord", "console") and status != 0:
                problems.append(f"{name} exited with {status} on {service.get('stop_signal', 'SIGTERM')}")
        self.running = []
        return problems

    def dump_logs(self):
        for name, path in self.logs.items():
            with open(path, errors="replace") as f:
                lines = f.readlines()[-15:]
            print(f"--- {name} (last {len(lines)} lines of {path})", file=sys.stderr)
            sys.stderr.writelines(lines)


def smoke(compose):
    """As an operator would, through `docker compose run --rm probity …`."""

    def probity(*args):
        status, text = compose.run_once("probity", list(args))
        if status != 0:
            fail(f"probity {' '.join(args)} exited with {status}:\n{text}")
        return text

    keys = "/var/lib/probity/keys"
    probity("keygen", "--out", f"{keys}/clerk.key")
    probity(
        "enroll", "--nats", CLERK, "--ledger", "city-hospital-3",
        "--key", f"{keys}/admin.key", "--public-key", f"{keys}/clerk.key.pub",
        "--role", "clerk", "--holder", "Li Na",
    )
    probity(
        "record", "--nats", "nats://clerk:clerk-trial-password@127.0.0.1:14223",
        "--ledger", "city-hospital-3", "--key", f"{keys}/clerk.key",
        "--type", "purchase.requested", "--payload",
        '{"case": "CASE-COMPOSE-1", "department": "cardiology", "requester": "S-0207",'
        ' "item": "infusion pump", "category": "A0232", "quantity": 1,'
        ' "estimated": {"fen": 3000000, "currency": "CNY"}, "budget_project": "BP-7",'
        ' "justification": "compose smoke test"}',
    )
    print("ok   a clerk enrolled over NATS recorded a purchase request (node 2)")
    for _ in range(100):
        status, text = compose.run_once(
            "probity",
            ["case", "CASE-COMPOSE-1", "--nats", CLERK, "--ledger", "city-hospital-3", "--json"],
        )
        if status == 0 and '"requested"' in text:
            print("ok   projectord (pinned to init's ledger.vkey) shows case CASE-COMPOSE-1 requested")
            break
        time.sleep(0.2)
    else:
        fail(f"projectord never showed the case:\n{text}")
    # The console serves it from its own verified copy of the stream.
    for _ in range(100):
        try:
            with urllib.request.urlopen(f"{CONSOLE}/api/cases/CASE-COMPOSE-1", timeout=5) as answer:
                case = json.load(answer)
            if case["ok"]["state"] == "requested":
                print("ok   the console (probity serve --nats, its copy pinned to ledger.vkey) shows the case")
                return
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.2)
    fail("the console never showed the case")


def main():
    for binary in OUR_BINARIES:
        if not os.access(os.path.join(RELEASE, binary), os.X_OK):
            subprocess.run(
                ["cargo", "build", "--release", "-q", "-p", "probity-cli", "-p", "probity-ledgerd",
                 "-p", "probity-projectord", "-p", "probity-replay"],
                cwd=ROOT,
                check=True,
            )
            break
    work = tempfile.mkdtemp(prefix="probity-compose.")
    compose = Compose(os.path.join(HERE, "compose.yaml"), work)
    compose.check_static()
    try:
        compose.up()
        smoke(compose)
        problems = compose.down()
        if problems:
            fail("; ".join(problems))
        # Up again on the same volumes: init must leave the ledger alone, the views resume.
        compose.up()
        status, text = compose.run_once(
            "probity", ["status", "--nats", CLERK, "--ledger", "city-hospital-3", "--json"]
        )
        if status != 0 or json.loads(text)["size"] != 3:
            fail(f"after a restart the ledger should hold 3 records:\n{text}")
        print("ok   up again on the same volumes: init kept the ledger (3 records)")
        problems = compose.down()
        if problems:
            fail("; ".join(problems))
        print("ok   ledgerd, projectord and the console stopped cleanly on their stop signals")
    except BaseException:
        compose.down()
        compose.dump_logs()
        print(f"compose-check: logs kept in {work}", file=sys.stderr)
        raise
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
