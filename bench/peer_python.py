#!/usr/bin/python3
"""Python peer of bench_inventory: the same list and lookup queries, done the
way the original Python MCP server does them (a new sqlite3 connection per
call with row_factory=sqlite3.Row, fetchall, dict conversion, json.dumps for
tool results), on the same database file.

    /usr/bin/python3 bench/peer_python.py --db PATH [--quick]

bench_inventory runs it on each database it builds. Output: one line per
figure, "row<TAB>cell<TAB>primary", where the row names match
bench_inventory's, cell is the text shown and primary is the number the
ratio is computed from (ms median, or us mean). Read-only: the database is
opened with mode=ro.
"""
import argparse
import json
import random
import sqlite3
import time

DB = None


def get_db():
    """As in the original server: one connection per tool call."""
    conn = sqlite3.connect(DB, uri=True)
    conn.row_factory = sqlite3.Row
    return conn


def emit(row, cell, primary):
    print(f"{row}\t{cell}\t{primary:.6g}", flush=True)


def time_list(row, fn, reps, budget_s=2.0):
    fn()  # warm-up
    times = []
    start = time.perf_counter()
    for _ in range(reps):
        t0 = time.perf_counter_ns()
        fn()
        times.append((time.perf_counter_ns() - t0) / 1e6)
        if len(times) >= 3 and time.perf_counter() - start > budget_s:
            break
    times.sort()
    n = len(times)
    med = times[n // 2] if n % 2 else (times[n // 2 - 1] + times[n // 2]) / 2
    emit(row, f"{med:.2f} ms", med)


def time_calls(row, fn, keys, n, budget_s=1.0):
    """n calls (fewer, but at least 10, when they take over budget_s)."""
    start = time.perf_counter()
    for k in keys[: max(1, n // 10)]:  # warm-up, at most 0.2 s
        fn(k)
        if time.perf_counter() - start > 0.2:
            break
    times = []
    start = time.perf_counter()
    for i in range(n):
        k = keys[i % len(keys)]
        t0 = time.perf_counter_ns()
        fn(k)
        times.append(time.perf_counter_ns() - t0)
        if len(times) >= 10 and time.perf_counter() - start > budget_s:
            break
    mean = sum(times) / len(times) / 1e3
    times.sort()
    p99 = times[int((len(times) - 1) * 0.99)] / 1e3
    note = "" if len(times) == n else f" [{len(times)} calls]"
    emit(row, f"{mean:.1f} / {p99:.1f} us{note}", mean)


# ----------------------------------------------------------- operations ---

def list_vms(status=None):
    with get_db() as conn:
        if status:
            rows = conn.execute("SELECT * FROM virtual_machines WHERE status = ? ORDER BY vm_id",
                                (status,)).fetchall()
        else:
            rows = conn.execute("SELECT * FROM virtual_machines ORDER BY vm_id").fetchall()
        result = [dict(r) for r in rows]
    conn.close()
    return result


def list_vms_by_host(host):
    with get_db() as conn:
        rows = conn.execute("SELECT v.*, h.node_name AS host_name FROM virtual_machines v "
                            "JOIN proxmox_hosts h ON h.id = v.host_id WHERE h.node_name = ? "
                            "ORDER BY v.vm_id", (host,)).fetchall()
        result = [dict(r) for r in rows]
    conn.close()
    assert result, host
    return result


def get_vm_by_name(name):
    with get_db() as conn:
        row = conn.execute("SELECT * FROM virtual_machines WHERE name = ?", (name,)).fetchone()
    conn.close()
    assert row is not None, name
    return dict(row)


def get_vm_by_id(vm_id):
    with get_db() as conn:
        row = conn.execute("SELECT * FROM virtual_machines WHERE vm_id = ?", (vm_id,)).fetchone()
    conn.close()
    assert row is not None, vm_id
    return dict(row)


def lookup_ip(ip):
    """Same work as hl_ip_lookup: the VM, host and allocation holding ip."""
    with get_db() as conn:
        vm = conn.execute("SELECT * FROM virtual_machines WHERE ip = ?", (ip,)).fetchone()
        host = conn.execute("SELECT * FROM proxmox_hosts WHERE ip_address = ?", (ip,)).fetchone()
        alloc = conn.execute("SELECT * FROM network_config WHERE ip_address = ?", (ip,)).fetchone()
    conn.close()
    result = {"ip": ip}
    if vm:
        result["vm"] = dict(vm)
    if host:
        result["host"] = dict(host)
    if alloc:
        result["allocation"] = dict(alloc)
    return result


def list_ips_24(prefix):
    """What a Python tool would write for a /24: a LIKE on the text column."""
    with get_db() as conn:
        rows = conn.execute("SELECT * FROM network_config WHERE ip_address LIKE ? ORDER BY ip_address",
                            (prefix + "%",)).fetchall()
        result = [dict(r) for r in rows]
    conn.close()
    assert len(result) == 254, (prefix, len(result))
    return result


def tool_list_vms(status=None):
    vms = list_vms(status)
    return json.dumps({"vms": vms, "count": len(vms)})


def tool_lookup_ip(ip):
    return json.dumps(lookup_ip(ip))


def main():
    global DB
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", required=True)
    ap.add_argument("--ips", type=int, default=0, help="ignored; kept for symmetry")
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    DB = f"file:{args.db}?mode=ro"
    rnd = random.Random(42)
    n = 2000 if args.quick else 5000

    # Keys, outside the timings.
    with get_db() as conn:
        names = [r[0] for r in conn.execute("SELECT name FROM virtual_machines")]
        ids = [r[0] for r in conn.execute("SELECT vm_id FROM virtual_machines")]
        hosts = [r[0] for r in conn.execute("SELECT node_name FROM proxmox_hosts")]
        max_id = conn.execute("SELECT max(id) FROM network_config").fetchone()[0]
        hit_ids = [rnd.randint(1, max_id) for _ in range(n)]
        hits = [conn.execute("SELECT ip_address FROM network_config WHERE id = ?", (i,)).fetchone()[0]
                for i in hit_ids]
        dhcp = conn.execute("SELECT min(id), max(id) FROM network_config WHERE type = 'dhcp'").fetchone()
        nets = []
        for _ in range(n // 5):
            ip = conn.execute("SELECT ip_address FROM network_config WHERE id = ?",
                              (rnd.randint(dhcp[0], dhcp[1]),)).fetchone()[0]
            nets.append(ip.rsplit(".", 1)[0] + ".")
    conn.close()
    n_vms = len(names)
    rnd.shuffle(names)
    rnd.shuffle(ids)
    rnd.shuffle(hosts)
    misses = []
    for _ in range(n):
        k = rnd.randrange(65000)
        misses.append(f"127.200.{k // 254}.{1 + k % 254}")
    reps = 5 if n_vms >= 100000 else 9

    time_list("hl_vm_list all (ms median)", list_vms, reps)
    time_list("hl_vm_list status=stopped, 25% (ms median)", lambda: list_vms("stopped"), reps)
    time_list("hl_vm_list status=suspended, 1% (ms median)", lambda: list_vms("suspended"), reps)
    time_calls("hl_vm_list host=NAME, 50 VMs (us mean / p99)", list_vms_by_host, hosts, n // 5)
    time_calls("hl_vm_lookup by name (us mean / p99)", get_vm_by_name, names, n)
    time_calls("hl_vm_lookup by id (us mean / p99)", get_vm_by_id, ids, n)
    time_calls("hl_ip_lookup hit (us mean / p99)", lookup_ip, hits, n)
    time_calls("hl_ip_lookup miss (us mean / p99)", lookup_ip, misses, n)
    time_calls("hl_ip_list /24, 254 rows (us mean / p99)", list_ips_24, nets, n // 5)
    time_list("tool homelab_list_vms {} (ms median)", tool_list_vms, reps)
    time_list("tool homelab_list_vms status=suspended (ms)", lambda: tool_list_vms("suspended"), reps)
    time_calls("tool homelab_lookup_ip hit (us mean / p99)", tool_lookup_ip, hits, n)


if __name__ == "__main__":
    main()
