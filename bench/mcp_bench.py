#!/usr/bin/env python3
"""bench/mcp_bench.py: homelab-mcpd side by side with an MCP server written with
the official TypeScript SDK (bench/mcp_peer.mjs) and with the HTTP server under
it answering a constant body (bench/mcp_ceiling.c), all on 127.0.0.1.

    bench/mcp_bench.py [BUILD_DIR]          (make bench-mcp)

Environment: BENCH_SECONDS (measured seconds per cell, default 5),
BENCH_LONG_SECONDS (homelab_lookup_ip at 64 connections on homelab-mcpd, default 60),
BENCH_SOAK_SECONDS (the soak at 16 connections, default 600), BENCH_VMS (10000),
NODE_MODULES (default tests/mcp/node_modules). Figures go to stdout as
Markdown; what it is doing goes to stderr. See bench/README.md.
"""
import http.client
import json
import os
import secrets
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

SRC = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(SRC, "build"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "5"))
LONG_SECONDS = float(os.environ.get("BENCH_LONG_SECONDS", "60"))
SOAK_SECONDS = float(os.environ.get("BENCH_SOAK_SECONDS", "600"))
VMS = int(os.environ.get("BENCH_VMS", "10000"))
NODE_MODULES = os.environ.get("NODE_MODULES", os.path.join(SRC, "tests", "mcp", "node_modules"))
THREADS = 80  # worker threads of homelab-mcpd and of the ceiling: 64 keep-alive connections each hold one
CONNS = (1, 16, 64)
LOAD = os.path.join(BUILD, "bench", "bench_mcp_load")

LOOKUP_IP = "127.2.0.5"
HOST = "pve-0007"  # 10 VMs on every host
WORKLOADS = [
    ("homelab_lookup_ip", {"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                           "params": {"name": "homelab_lookup_ip", "arguments": {"ip": LOOKUP_IP}}},
     '"held_by":["vm","allocation"]'),
    ("homelab_list_vms host=", {"jsonrpc": "2.0", "id": 3, "method": "tools/call",
                                "params": {"name": "homelab_list_vms", "arguments": {"host": HOST}}},
     '"count":10'),
    ("tools/list", {"jsonrpc": "2.0", "id": 4, "method": "tools/list"}, '"homelab_list_ips"'),
]


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def loadavg():
    return "%.2f %.2f %.2f" % os.getloadavg()


def build_inventory(path):
    """Schema through the CLI, rows through sqlite3 in one transaction: hosts
    pve-NNNN (VMS/10) on 127.1.0.0/16, VMs vm-NNNNNN (vm_id 100+) on
    127.2.0.0/15, one service per VM, one network_config row per VM and host."""
    subprocess.run([os.path.join(BUILD, "homelab"), "--db", path, "db", "init"], check=True,
                   stdout=subprocess.DEVNULL)
    hosts = VMS // 10

    def ip(base, i):
        return "127.%d.%d.%d" % (base + (i >> 16), (i >> 8) & 255, i & 255)

    def num(s):
        a = [int(x) for x in s.split(".")]
        return a[0] << 24 | a[1] << 16 | a[2] << 8 | a[3]

    status = ["running"] * 14 + ["stopped"] * 5 + ["paused"]
    db = sqlite3.connect(path)
    db.execute("PRAGMA synchronous=OFF")
    db.executemany("INSERT INTO proxmox_hosts (id, node_name, ip_address) VALUES (?, ?, ?)",
                   [(i + 1, "pve-%04d" % (i + 1), ip(1, i + 1)) for i in range(hosts)])
    db.executemany("INSERT INTO virtual_machines (vm_id, name, ip, status, host_id, ssh_user, ssh_port) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?)",
                   [(100 + i, "vm-%06d" % i, ip(2, i + 1), status[i % 20], 1 + i % hosts,
                     "admin" if i % 10 == 0 else None, 2222 if i % 10 == 0 else None) for i in range(VMS)])
    db.executemany("INSERT INTO services (service_name, url, port, protocol, health_endpoint, vm_id) "
                   "VALUES (?, ?, 8080, 'http', '/healthz', ?)",
                   [("svc-%06d" % i, "http://%s:8080/" % ip(2, i + 1), 100 + i) for i in range(VMS)])
    db.executemany("INSERT INTO network_config (ip_address, hostname, allocated_to, type, ip_num) "
                   "VALUES (?, ?, ?, ?, ?)",
                   [(ip(2, i + 1), "vm-%06d" % i, "vm-%06d" % i, "static", num(ip(2, i + 1))) for i in range(VMS)] +
                   [(ip(1, i + 1), "pve-%04d" % (i + 1), "pve-%04d" % (i + 1), "host", num(ip(1, i + 1)))
                    for i in range(hosts)])
    db.commit()
    db.close()


def dump_inventory(path, out):
    db = sqlite3.connect(path)
    db.row_factory = sqlite3.Row

    def rows(q):
        return [dict(r) for r in db.execute(q)]

    with open(out, "w") as f:
        json.dump({"hosts": rows("SELECT id, node_name, ip_address FROM proxmox_hosts"),
                   "vms": rows("SELECT vm_id, name, ip, status, host_id, ssh_user, ssh_port FROM virtual_machines"),
                   "network": rows("SELECT ip_address, hostname, allocated_to, type FROM network_config")}, f)
    db.close()


class Server:
    def __init__(self, name, argv, port_file, env=None):
        self.name, self.port_file = name, port_file
        if os.path.exists(port_file):
            os.unlink(port_file)
        self.proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL,
                                     stderr=open(port_file + ".log", "w"))
        for _ in range(200):
            if self.proc.poll() is not None:
                raise SystemExit(f"{name} exited: {open(port_file + '.log').read()[-2000:]}")
            if os.path.exists(port_file) and open(port_file).read().strip():
                break
            time.sleep(0.05)
        else:
            raise SystemExit(f"{name} did not start")
        self.port = int(open(port_file).read())

    def memory(self):
        """(Private_Dirty, Anonymous) in KiB, from /proc/PID/smaps_rollup."""
        got = {}
        with open(f"/proc/{self.proc.pid}/smaps_rollup") as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("Private_Dirty", "Anonymous", "Rss"):
                    got[k] = int(v.split()[0])
        return got

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def rpc(port, token, body, session=None):
    """One POST with Python's client (checks only, never timed)."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    h = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
    if token:
        h["Authorization"] = "Bearer " + token
    if session:
        h.update({"Mcp-Session-Id": session, "MCP-Protocol-Version": "2025-11-25"})
    c.request("POST", "/mcp", json.dumps(body), h)
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, r.getheader("Mcp-Session-Id"), data


def session(port, token):
    st, sid, data = rpc(port, token, {"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "bench", "version": "1"}}})
    if st != 200 or not sid:
        raise SystemExit(f"initialize on port {port}: {st} {data[:300]!r}")
    rpc(port, token, {"jsonrpc": "2.0", "method": "notifications/initialized"}, sid)
    return sid


def load(port, token, mode, conns, seconds, body, expect, warmup=1.0):
    argv = [LOAD, "--port", str(port), "--mode", mode, "--conns", str(conns), "--seconds", str(seconds),
            "--warmup", str(warmup), "--expect", expect,
            "--body" if mode == "call" else "--call", json.dumps(body, separators=(",", ":"))]
    env = dict(os.environ, MCP_LOAD_TOKEN=token or "")
    out = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=seconds + warmup + 120)
    if out.returncode != 0:
        raise SystemExit(f"bench_mcp_load failed: {out.stderr.strip()}")
    return {k: float(v) if "." in v or v.isdigit() else v
            for k, v in (f.split("=") for f in out.stdout.split())}


def kib(v):
    return "%.1f MiB" % (v / 1024)


def main():
    # SIGTERM/SIGINT end the run through the finally below: every server stopped, the directory removed
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    for exe in (LOAD, os.path.join(BUILD, "bench", "bench_mcp_ceiling"), os.path.join(BUILD, "homelab-mcpd")):
        if not os.access(exe, os.X_OK):
            raise SystemExit(f"{exe} is missing: build first (make bench-mcp does)")
    if not os.path.isdir(os.path.join(NODE_MODULES, "@modelcontextprotocol", "sdk")):
        raise SystemExit(f"no @modelcontextprotocol/sdk in {NODE_MODULES}: run scripts/install-npm-deps.sh")
    started = time.time()
    tmp = tempfile.mkdtemp(prefix="hl-bench-mcp-")
    servers = []
    try:
        log(f"load average at start: {loadavg()}")
        db = os.path.join(tmp, "homelab.db")
        t = time.time()
        build_inventory(db)
        log(f"inventory of {VMS} VMs built in {time.time() - t:.1f} s")
        out = subprocess.run([os.path.join(BUILD, "homelab"), "--db", db, "tokens", "create", "bench",
                              "--scope", "inventory:read"], check=True, capture_output=True, text=True)
        token = out.stdout.split()[0]
        peer_token = secrets.token_urlsafe(32)

        mcpd = Server("homelab-mcpd", [os.path.join(BUILD, "homelab-mcpd"), "--db", db, "--host", "127.0.0.1",
                                       "--port", "0", "--port-file", os.path.join(tmp, "mcpd.port"),
                                       "--threads", str(THREADS)], os.path.join(tmp, "mcpd.port"))
        servers.append(mcpd)
        sid = session(mcpd.port, token)
        answers = {}
        for name, body, expect in WORKLOADS:
            st, _, data = rpc(mcpd.port, token, body, sid)
            if st != 200 or expect.encode() not in data:
                raise SystemExit(f"homelab-mcpd {name}: {st} {data[:300]!r}")
            answers[name] = data
            with open(os.path.join(tmp, f"body-{body['id']}.json"), "wb") as f:
                f.write(data)
        with open(os.path.join(tmp, "tools.json"), "w") as f:
            json.dump(json.loads(answers["tools/list"])["result"], f)
        dump_inventory(db, os.path.join(tmp, "inventory.json"))
        peer = Server("peer", ["node", os.path.join(SRC, "bench", "mcp_peer.mjs"), "--modules", NODE_MODULES,
                               "--inventory", os.path.join(tmp, "inventory.json"), "--tools",
                               os.path.join(tmp, "tools.json"), "--port-file", os.path.join(tmp, "peer.port")],
                      os.path.join(tmp, "peer.port"), env=dict(os.environ, MCP_PEER_TOKEN=peer_token))
        servers.append(peer)
        # the peer answers what the daemon answers
        psid = session(peer.port, peer_token)
        for name, body, expect in WORKLOADS:
            st, _, data = rpc(peer.port, peer_token, body, psid)
            mine, theirs = json.loads(answers[name])["result"], json.loads(data)["result"]
            if name == "tools/list":
                same = [t["name"] for t in mine["tools"]] == [t["name"] for t in theirs["tools"]]
            else:
                same = mine["structuredContent"] == theirs["structuredContent"] and \
                    mine["content"] == theirs["content"]
            if st != 200 or not same:
                raise SystemExit(f"the peer's {name} differs from homelab-mcpd's: {data[:300]!r}")
        log("the peer answers homelab_lookup_ip, homelab_list_vms and tools/list as homelab-mcpd does")
        mem = {"idle": mcpd.memory()}
        peer_mem = {"idle": peer.memory()}

        rows = []
        for conns in CONNS:
            for wi, (name, body, expect) in enumerate(WORKLOADS):
                ceiling = Server("ceiling", [os.path.join(BUILD, "bench", "bench_mcp_ceiling"),
                                             os.path.join(tmp, f"body-{body['id']}.json"),
                                             os.path.join(tmp, "ceiling.port"), str(THREADS)],
                                 os.path.join(tmp, "ceiling.port"))
                try:
                    la = loadavg()
                    log(f"{name}, {conns} connections (load {la})")
                    r = {"what": name, "conns": conns, "load": la}
                    r["mcpd"] = load(mcpd.port, token, "call", conns, SECONDS, body, expect)
                    r["peer"] = load(peer.port, peer_token, "call", conns, SECONDS, body, expect)
                    r["ceiling"] = load(ceiling.port, None, "call", conns, SECONDS, body, expect)
                    rows.append(r)
                finally:
                    ceiling.stop()
            if conns == 64:
                mem["after 64 connections"] = mcpd.memory()
                peer_mem["after 64 connections"] = peer.memory()

        # chat turns: the ceiling answers every step with the lookup answer's
        # body, so the turn against it is the client's own cost
        turns = []
        name, body, expect = WORKLOADS[0]
        ceiling = Server("ceiling", [os.path.join(BUILD, "bench", "bench_mcp_ceiling"),
                                     os.path.join(tmp, f"body-{body['id']}.json"),
                                     os.path.join(tmp, "ceiling.port"), str(THREADS)],
                         os.path.join(tmp, "ceiling.port"))
        try:
            for conns in (1, 16):
                la = loadavg()
                log(f"chat turns, {conns} clients (load {la})")
                r = {"conns": conns, "load": la}
                r["mcpd"] = load(mcpd.port, token, "turn", conns, SECONDS, body, expect)
                r["peer"] = load(peer.port, peer_token, "turn", conns, SECONDS, body, expect)
                r["ceiling"] = load(ceiling.port, None, "turn", conns, SECONDS, body, expect)
                turns.append(r)
        finally:
            ceiling.stop()

        la = loadavg()
        log(f"homelab_lookup_ip, 64 connections for {LONG_SECONDS:.0f} s (load {la})")
        long64 = load(mcpd.port, token, "call", 64, LONG_SECONDS, WORKLOADS[0][1], WORKLOADS[0][2])
        long64["load"] = la

        soak = []
        chunks = 10
        log(f"soak: homelab_lookup_ip, 16 connections, {SOAK_SECONDS:.0f} s in {chunks} parts (load {loadavg()})")
        for i in range(chunks):
            r = load(mcpd.port, token, "call", 16, SOAK_SECONDS / chunks, WORKLOADS[0][1], WORKLOADS[0][2], 0)
            r["mem"] = mcpd.memory()
            r["load"] = loadavg()
            soak.append(r)
        mem["after the soak"] = soak[-1]["mem"]
        peer_mem["after the soak (no soak: idle since)"] = peer.memory()

        report(rows, turns, long64, soak, mem, peer_mem, started)
    finally:
        for s in servers:
            s.stop()
        subprocess.run(["rm", "-rf", tmp])


def report(rows, turns, long64, soak, mem, peer_mem, started):
    cpus = os.cpu_count()
    print(f"## homelab-mcpd vs the TypeScript SDK peer vs the CivetWeb ceiling\n")
    print(f"{VMS} VMs, {cpus} CPUs, {SECONDS:.0f} s per cell after 1 s of warm-up, 127.0.0.1, "
          f"bench_mcp_load (C, epoll, 2 threads), a session per connection; homelab-mcpd and the peer with a "
          f"bearer token, {THREADS} worker threads for homelab-mcpd and the ceiling. "
          f"Load average (1/5/15 min) before each row.\n")
    print("| request | conns | homelab-mcpd req/s | p50 | p99 | peer req/s | p50 | p99 | ceiling req/s | p50 | p99 "
          "| mcpd/peer | mcpd/ceiling | errors | load |")
    print("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|")
    ms = lambda us: "%.2f ms" % (us / 1000)
    for r in rows:
        m, p, c = r["mcpd"], r["peer"], r["ceiling"]
        print(f"| {r['what']} | {r['conns']} | {m['rps']:,.0f} | {ms(m['p50_us'])} | {ms(m['p99_us'])} "
              f"| {p['rps']:,.0f} | {ms(p['p50_us'])} | {ms(p['p99_us'])} "
              f"| {c['rps']:,.0f} | {ms(c['p50_us'])} | {ms(c['p99_us'])} "
              f"| {m['rps'] / p['rps']:.1f}x | {m['rps'] / c['rps'] * 100:.0f} % "
              f"| {int(m['errors'])}/{int(p['errors'])}/{int(c['errors'])} | {r['load']} |")
    print("\nerrors: homelab-mcpd/peer/ceiling.\n")
    print("### Chat turn (initialize, initialized, GET stream, tools/list, tools/call, DELETE; "
          "a new session each turn)\n")
    print("The turn against the ceiling is the client's own cost (and CivetWeb's); server side = turn p50 minus it.\n")
    print("| clients | homelab-mcpd turns/s | p50 | p99 | peer turns/s | p50 | p99 | client cost p50 "
          "| mcpd server side | peer server side | mcpd/peer | errors | load |")
    print("|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|")
    for r in turns:
        m, p, c = r["mcpd"], r["peer"], r["ceiling"]
        ms_, ps_ = m["p50_us"] - c["p50_us"], p["p50_us"] - c["p50_us"]
        print(f"| {r['conns']} | {m['rps']:,.0f} | {ms(m['p50_us'])} | {ms(m['p99_us'])} "
              f"| {p['rps']:,.0f} | {ms(p['p50_us'])} | {ms(p['p99_us'])} | {ms(c['p50_us'])} "
              f"| {ms(ms_)} | {ms(ps_)} | {ms_ / ps_ if ps_ > 0 else float('nan'):.2f} "
              f"| {int(m['errors'])}/{int(p['errors'])}/{int(c['errors'])} | {r['load']} |")
    print(f"\n### homelab-mcpd, homelab_lookup_ip at 64 connections for {LONG_SECONDS:.0f} s\n")
    print(f"{long64['rps']:,.0f} req/s, p50 {ms(long64['p50_us'])}, p99 {ms(long64['p99_us'])}, "
          f"max {ms(long64['max_us'])}, {int(long64['errors'])} errors (load {long64['load']})\n")
    print("### Memory (from /proc/PID/smaps_rollup)\n")
    print("| process | when | Private_Dirty | Anonymous | Rss |")
    print("|---|---|--:|--:|--:|")
    for who, m in (("homelab-mcpd", mem), ("peer (node)", peer_mem)):
        for when, v in m.items():
            print(f"| {who} | {when} | {kib(v['Private_Dirty'])} | {kib(v['Anonymous'])} | {kib(v['Rss'])} |")
    print(f"\n### Soak: homelab_lookup_ip, 16 connections, {SOAK_SECONDS:.0f} s in {len(soak)} parts\n")
    print("| part | req/s | p50 | p99 | errors | Private_Dirty | Anonymous | load |")
    print("|--:|--:|--:|--:|--:|--:|--:|---|")
    for i, r in enumerate(soak):
        print(f"| {i + 1} | {r['rps']:,.0f} | {ms(r['p50_us'])} | {ms(r['p99_us'])} | {int(r['errors'])} "
              f"| {kib(r['mem']['Private_Dirty'])} | {kib(r['mem']['Anonymous'])} | {r['load']} |")
    anon = [r["mem"]["Anonymous"] for r in soak]
    print(f"\nAnonymous memory over the soak: {kib(min(anon))} .. {kib(max(anon))} "
          f"({(max(anon) - min(anon)) / min(anon) * 100:.1f} % spread; the first part already has 16 sessions)\n")
    print(f"total run time {time.time() - started:.0f} s, load average at the end {loadavg()}")


if __name__ == "__main__":
    main()
