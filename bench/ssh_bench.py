#!/usr/bin/env python3
"""bench/ssh: N sequential `echo hi` on one target, through libhomelab (one
kept session: the Python binding calling whisper_ssh_command in-process, and
homelab-mcpd --stdio answering tools/call, raw and from the official SDK
client) against OpenSSH's `ssh HOST CMD` (a new connection, key exchange and
login each time) and the npm MCP server ssh-mcp 2.11 (tool run-command, host
key pinned with trustedHostKey and --hostKeyMode=strict; as shipped, and with
TCP_NODELAY forced on its sockets by bench/nodelay.cjs), all on the same
private sshd on 127.0.0.1 (tests/remote/sshd_helper.py). Figures, not a test.

    python3 bench/ssh_bench.py [BUILD_DIR] [-n N] [--install-peer]

The ssh-mcp peer is looked for in BUILD_DIR/ssh-mcp-peer (--install-peer
runs `npm install --prefix BUILD_DIR/ssh-mcp-peer ssh-mcp@2.11.0` first).
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(SRC, "tests", "remote"))
sys.path.insert(0, os.path.join(SRC, "bindings", "python"))

from sshd_helper import Sshd  # noqa: E402


def stats(name, times):
    ms = [t * 1000 for t in times]
    return {"name": name, "n": len(ms), "mean_ms": statistics.mean(ms), "median_ms": statistics.median(ms),
            "p95_ms": sorted(ms)[int(len(ms) * 0.95) - 1], "total_s": sum(times)}


def run_ssh(server, kh, n):
    argv = ["ssh", "-F", "/dev/null", "-o", f"UserKnownHostsFile={kh}", "-o", "GlobalKnownHostsFile=/dev/null",
            "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes",
            "-i", str(server.user_key), "-p", str(server.port), "root@127.0.0.1", "echo hi"]
    times = []
    for _ in range(n):
        t = time.perf_counter()
        out = subprocess.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL)
        times.append(time.perf_counter() - t)
        assert out.returncode == 0 and out.stdout == "hi\n", out
    return times


def run_library(db, n):
    import homelab
    times = []
    with homelab.Homelab(db) as hl:
        hl.call("whisper_ssh_command", command="true")  # the one handshake
        for _ in range(n):
            t = time.perf_counter()
            r = hl.call("whisper_ssh_command", command="echo hi")
            times.append(time.perf_counter() - t)
            assert r["stdout"] == "hi\n", r
    return times


def run_mcpd_stdio(build, db, env, n):
    """homelab-mcpd --stdio, JSON-RPC lines written and read here (no SDK in the loop)."""
    p = subprocess.Popen([os.path.join(build, "homelab-mcpd"), "--stdio", "--db", db], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env, bufsize=1)

    def rpc(i, method, params=None):
        p.stdin.write(json.dumps({"jsonrpc": "2.0", "id": i, "method": method, "params": params or {}}) + "\n")
        p.stdin.flush()
        while True:
            msg = json.loads(p.stdout.readline())
            if msg.get("id") == i:
                return msg

    rpc(0, "initialize", {"protocolVersion": "2025-06-18", "capabilities": {},
                          "clientInfo": {"name": "bench", "version": "1"}})
    p.stdin.write(json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}) + "\n")
    rpc(1, "tools/call", {"name": "whisper_ssh_command", "arguments": {"command": "true"}})
    times = []
    for i in range(n):
        t = time.perf_counter()
        r = rpc(2 + i, "tools/call", {"name": "whisper_ssh_command", "arguments": {"command": "echo hi"}})
        times.append(time.perf_counter() - t)
        assert r["result"]["structuredContent"]["stdout"] == "hi\n", r
    p.stdin.close()
    p.wait(10)
    return times


def run_sdk(cmd, tool, args, n, env):
    """The official SDK client over stdio (bench/ssh_mcp_client.mjs)."""
    out = subprocess.run(["node", os.path.join(HERE, "ssh_mcp_client.mjs"), str(n), tool, json.dumps(args), "--"]
                         + cmd, capture_output=True, text=True, env=env, timeout=600, stdin=subprocess.DEVNULL)
    r = json.loads(out.stdout.strip().splitlines()[-1])
    assert r["error"] is None and r["first"] is not None and "hi" in r["first"], (r, out.stderr[-2000:])
    assert len(r["times_ms"]) == n, r
    return [t / 1000 for t in r["times_ms"]]


def ssh_mcp_config(work, server):
    cfgdir = os.path.join(work, "peer-home", ".config", "ssh-mcp")
    os.makedirs(cfgdir)
    for d in (os.path.dirname(cfgdir), cfgdir):
        os.chmod(d, 0o700)
    path = os.path.join(cfgdir, "config.toml")
    with open(path, "w") as f:
        f.write(f"""[defaults]
defaultProfile = "bench"
approvalMode = "auto"

[[profiles]]
name = "bench"
host = "127.0.0.1"
port = {server.port}
user = "root"
auth = "key"
keyRef = "{server.user_key}"
trustedHostKey = "{server.host_fingerprint()}"
role = "admin"
group = "dev"
approvalPolicy = "auto"
""")
    os.chmod(path, 0o600)
    return path


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build", nargs="?", default=os.path.join(SRC, "build"))
    ap.add_argument("-n", type=int, default=100)
    ap.add_argument("--install-peer", action="store_true")
    a = ap.parse_args()
    build = os.path.abspath(a.build)
    peer = os.path.join(build, "ssh-mcp-peer")
    if a.install_peer:
        subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--prefix", peer, "ssh-mcp@2.11.0"], check=True)
    peer_js = os.path.join(peer, "node_modules", "ssh-mcp", "build", "index.js")
    os.environ.setdefault("HOMELAB_LIBRARY", os.path.join(build, "libhomelab.so"))
    work = tempfile.mkdtemp(prefix="hl-bench-ssh-")
    try:
        server = Sshd(os.path.join(work, "sshd"))
        server.start()
        kh = os.path.join(work, "known_hosts")
        with open(kh, "w") as f:
            f.write(server.known_hosts_line())
        home = os.path.join(work, "home")
        os.mkdir(home)
        env = dict(os.environ, HOMELAB_KNOWN_HOSTS=kh, HOMELAB_SSH_KEY=str(server.user_key), HOME=home)
        env.pop("SSH_AUTH_SOCK", None)
        os.environ.update({k: env[k] for k in ("HOMELAB_KNOWN_HOSTS", "HOMELAB_SSH_KEY", "HOME")})
        os.environ.pop("SSH_AUTH_SOCK", None)
        db = os.path.join(work, "homelab.db")
        cli = os.path.join(build, "homelab")
        subprocess.run([cli, "--db", db, "db", "init"], check=True, capture_output=True, env=env)
        subprocess.run([cli, "--db", db, "vms", "add", "whisper", "--ip", "127.0.0.1", "--ssh-port",
                        str(server.port), "--ssh-user", "root"], check=True, capture_output=True, env=env)
        before = server.handshakes()
        rows = [stats("libhomelab (Python binding, kept session)", run_library(db, a.n))]
        lib_handshakes = server.handshakes() - before
        c = subprocess.run([os.path.join(build, "bench", "bench_ssh_exec"), db, "whisper", str(a.n)],
                           capture_output=True, text=True, env=env, check=True)
        split = json.loads(c.stdout)
        rows.append(stats("homelab-mcpd --stdio tools/call (kept session)", run_mcpd_stdio(build, db, env, a.n)))
        rows.append(stats("homelab-mcpd --stdio, SDK client (kept session)",
                          run_sdk([os.path.join(build, "homelab-mcpd"), "--stdio", "--db", db], "whisper_ssh_command",
                                  {"command": "echo hi"}, a.n, env)))
        rows.append(stats("OpenSSH ssh HOST CMD (new connection each)", run_ssh(server, kh, a.n)))
        if os.path.exists(peer_js):
            cfg = ssh_mcp_config(work, server)
            penv = dict(env, HOME=os.path.join(work, "peer-home"), XDG_CONFIG_HOME=os.path.join(work, "peer-home", ".config"))
            cmd = ["node", peer_js, f"--config={cfg}", "--hostKeyMode=strict"]
            rows.append(stats("ssh-mcp 2.11 run-command, SDK client (as shipped)",
                              run_sdk(cmd, "run-command", {"command": "echo hi"}, a.n, penv)))
            rows.append(stats("ssh-mcp 2.11 run-command, SDK client (TCP_NODELAY forced)",
                              run_sdk(["node", "--require", os.path.join(HERE, "nodelay.cjs")] + cmd[1:], "run-command",
                                      {"command": "echo hi"}, a.n, penv)))
        else:
            print(f"(no ssh-mcp peer in {peer}: --install-peer installs it)", file=sys.stderr)
        server.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"{a.n} sequential `echo hi` on one sshd (127.0.0.1), {os.cpu_count()} CPUs\n")
    print("| path | mean ms | median ms | p95 ms | total s |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['name']} | {r['mean_ms']:.2f} | {r['median_ms']:.2f} | {r['p95_ms']:.2f} | {r['total_s']:.2f} |")
    by = {r["name"].split(" (")[0] + (" nodelay" if "NODELAY" in r["name"] else ""): r["mean_ms"] for r in rows}
    ssh = by["OpenSSH ssh HOST CMD"]
    print(f"\nhl_ssh_exec from C (bench_ssh_exec): {split['exec_ms']:.2f} ms per command, of which two audit rows "
          f"(committed before and after): {2 * split['audit_row_ms']:.2f} ms")
    print(f"handshakes for the {a.n + 1} library calls: {lib_handshakes}")
    print(f"ssh / libhomelab: {ssh / rows[0]['mean_ms']:.1f}x; ssh / homelab-mcpd raw: {ssh / rows[1]['mean_ms']:.1f}x; "
          f"ssh / homelab-mcpd SDK: {ssh / rows[2]['mean_ms']:.1f}x")
    if len(rows) > 4:
        print(f"ssh-mcp / homelab-mcpd (both SDK over stdio): {rows[4]['mean_ms'] / rows[2]['mean_ms']:.1f}x as shipped, "
              f"{rows[5]['mean_ms'] / rows[2]['mean_ms']:.1f}x with TCP_NODELAY forced")


if __name__ == "__main__":
    main()
