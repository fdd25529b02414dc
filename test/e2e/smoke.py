#!/usr/bin/env python3
"""Smoke test of the installed package without booting systemd: runs each daemon with NOTIFY_SOCKET
pointing at a datagram socket of our own, as systemd would, against the kubelet and API server
stand-ins. Measures start -> READY=1 and peak RSS, checks that the sd-notify build was used.

Usage (inside a root where the .deb is installed):
  smoke.py --fakes /opt/e2e/fakes --fixture /opt/e2e/fixture [--runs N] [--labeller] [--json out.json]
Prints PASS/FAIL lines and exits non-zero on a failure.
"""
import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

CLI = os.environ.get("RRN_SMOKE_CLI", "/usr/bin/riscv-runner-node")
FALLBACK = "no sd-notify build"


def wait_path(path, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if os.path.exists(path):
            return True
        time.sleep(0.05)
    return False


def peak_rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


class Notify:
    """A datagram socket standing in for systemd's notify socket."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.messages = []

    def wait_for(self, line, timeout):
        return self.wait_until(lambda item: item == line, timeout)

    def wait_until(self, pred, timeout):
        """Receives until a message matches; returns the monotonic time it came, or None."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(4096).decode()
            except socket.timeout:
                return None
            now = time.monotonic()
            for item in data.split("\n"):
                self.messages.append(item)
                if pred(item):
                    return now

    def close(self):
        self.sock.close()
        os.unlink(self.path)


def run_daemon(args, env, notify, ready_timeout):
    """Starts a daemon, waits for READY=1; returns (process, seconds to READY or None)."""
    full_env = dict(os.environ, NOTIFY_SOCKET=notify.path, **env)
    start = time.monotonic()
    proc = subprocess.Popen([CLI, *args], env=full_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    ready = notify.wait_for("READY=1", ready_timeout)
    return proc, (ready - start) if ready is not None else None


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        out, _ = proc.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
    return proc.returncode, out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fakes", required=True)
    ap.add_argument("--fixture", required=True)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--labeller", action="store_true", help="also run the node labeller against the fake API server")
    ap.add_argument("--ready-timeout", type=float, default=120)
    ap.add_argument("--expect", help="JSON file of the labels detect must print for the fixture")
    ap.add_argument("--json")
    opts = ap.parse_args()

    results = {"plugin_ready_s": [], "plugin_rss_kib": [], "labeller_ready_s": [], "labeller_rss_kib": []}
    failures = []

    def check(name, ok, detail=""):
        print(f"{'PASS' if ok else 'FAIL'} {name}{(': ' + detail) if detail else ''}", flush=True)
        if not ok:
            failures.append(name)

    def finish(daemon, proc, notify, ready, rss):
        """Stops one run of a daemon and keeps its figures; returns its exit code, output and STATUS lines."""
        status = [m for m in notify.messages if m.startswith("STATUS=")]
        code, out = stop(proc)
        notify.close()
        if ready is not None:
            results[f"{daemon}_ready_s"].append(round(ready, 3))
            results[f"{daemon}_rss_kib"].append(rss)
        return code, out, status

    work = tempfile.mkdtemp(prefix="rrn-smoke-")
    dp = os.path.join(work, "device-plugins")
    state = os.path.join(work, "kubelet.json")
    kubelet = subprocess.Popen(
        ["node", os.path.join(opts.fakes, "kubelet.mjs"), "--dir", dp, "--state", state, "--quiet"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    apiserver = None
    try:
        check("kubelet stand-in listening", wait_path(os.path.join(dp, "kubelet.sock"), opts.ready_timeout))
        for run in range(opts.runs):
            notify = Notify(os.path.join(work, "notify.sock"))
            proc, ready = run_daemon(["device-plugin", "--device-plugin-dir", dp], {}, notify, opts.ready_timeout)
            rss = peak_rss_kib(proc.pid) if proc.poll() is None else 0
            time.sleep(0.3)
            with open(state) as f:
                seen = json.load(f)
            devices = seen.get("devices", {}).get("riseproject.com/runner", [])
            registered = any(d.get("ID") == "runner-0" and d.get("health") == "Healthy" for d in devices)
            code, out, status = finish("plugin", proc, notify, ready, rss)
            if run == 0 or ready is None or code != 0:
                check("device plugin sent READY=1", ready is not None, f"{ready:.3f} s after start" if ready else "")
                check("kubelet stand-in saw riseproject.com/runner with runner-0 Healthy", registered)
                check("STATUS says registered", any("registered with kubelet" in s for s in status), status[-1] if status else "")
                check("sd-notify build used (no fallback warning)", FALLBACK not in out, out.strip()[-300:] if FALLBACK in out else "")
                check("SIGTERM: exit 0, socket removed", code == 0 and not os.path.exists(os.path.join(dp, "rise-riscv-runner.sock")), f"exit {code}")

        detect = subprocess.run([CLI, "detect", "--root", opts.fixture], capture_output=True, text=True)
        print(detect.stdout, end="")
        check("detect prints the fixture's board label", detect.returncode == 0 and "riseproject.dev/board=" in detect.stdout,
              detect.stderr.strip()[-300:])
        results["detect"] = detect.stdout
        if opts.expect:
            with open(opts.expect) as f:
                expected = json.load(f)
            printed = dict(line.split("=", 1) for line in detect.stdout.splitlines() if "=" in line)
            check("detect prints exactly the fixture's expected labels", printed == expected,
                  "" if printed == expected else f"expected {expected}")

        if opts.labeller:
            node = "smoke-node"
            kubeconfig = os.path.join(work, "kubeconfig")
            apiserver = subprocess.Popen(
                ["node", os.path.join(opts.fakes, "apiserver.mjs"), "--port", "0", "--host", "127.0.0.1", "--node", node,
                 "--kubeconfig-out", kubeconfig, "--identity", f"system:node:{node}"],
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
            )
            apiserver.stdout.readline()
            check("fake API server up", wait_path(kubeconfig, 30))
            for run in range(opts.runs):
                notify = Notify(os.path.join(work, "notify.sock"))
                proc, ready = run_daemon(["node-labeller", "--root", opts.fixture, "--node-name", node, "--kubeconfig", kubeconfig],
                                         {}, notify, opts.ready_timeout)
                synced = notify.wait_until(lambda m: m.startswith("STATUS=") and "(in sync)" in m, 30)
                rss = peak_rss_kib(proc.pid) if proc.poll() is None else 0
                code, out, status = finish("labeller", proc, notify, ready, rss)
                if run == 0 or ready is None:
                    check("node labeller sent READY=1", ready is not None, f"{ready:.3f} s after start" if ready else "")
                    check("labeller patched the node (STATUS in sync)", synced is not None, status[-1] if status else "")
                    check("labeller sd-notify build used (no fallback warning)", FALLBACK not in out)
    finally:
        for p in (kubelet, apiserver):
            if p is not None and p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()
        shutil.rmtree(work, ignore_errors=True)

    for key in ("plugin_ready_s", "labeller_ready_s", "plugin_rss_kib", "labeller_rss_kib"):
        if results[key]:
            print(f"  {key}: median {statistics.median(results[key])} of {results[key]}")
    if opts.json:
        with open(opts.json, "w") as f:
            json.dump(results, f, indent=2)
    print(f"smoke: {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
