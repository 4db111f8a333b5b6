#!/usr/bin/env python3
"""bench/mcpd_calls.py: latency of MCP tool calls through homelab-mcpd.

Starts the daemon on 127.0.0.1 (a free port) over a temporary demo inventory,
opens one Streamable HTTP session on one keep-alive connection, and times
tools/call round trips (client included). Prints mean / p50 / p99.

    bench/mcpd_calls.py [BUILD_DIR] [CALLS]      (default: build 2000)
"""
import http.client
import json
import os
import subprocess
import sys
import tempfile
import time


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else "build"
    calls = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
    tmp = tempfile.mkdtemp(prefix="hl-bench-mcpd-")
    db, port_file = os.path.join(tmp, "homelab.db"), os.path.join(tmp, "port")
    subprocess.run([os.path.join(build, "homelab"), "--db", db, "db", "init", "--demo"], check=True,
                   stdout=subprocess.DEVNULL)
    daemon = subprocess.Popen([os.path.join(build, "homelab-mcpd"), "--db", db, "--host", "127.0.0.1",
                               "--port", "0", "--port-file", port_file], stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            if os.path.exists(port_file) and open(port_file).read().strip():
                break
            time.sleep(0.05)
        port = int(open(port_file).read())
        conn = http.client.HTTPConnection("127.0.0.1", port)
        headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
        conn.request("POST", "/mcp", json.dumps({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "bench", "version": "1"}}}),
            headers)
        r = conn.getresponse()
        r.read()
        headers.update({"Mcp-Session-Id": r.getheader("Mcp-Session-Id"), "MCP-Protocol-Version": "2025-11-25"})
        print(f"homelab-mcpd tool calls, one keep-alive connection, {calls} calls each (client time included)")
        for name, args in (("homelab_get_vm", {"name": "whisper"}), ("homelab_list_vms", {}),
                           ("homelab_lookup_ip", {"ip": "127.0.1.201"})):
            times = []
            for i in range(calls):
                body = json.dumps({"jsonrpc": "2.0", "id": i + 1, "method": "tools/call",
                                   "params": {"name": name, "arguments": args}})
                t = time.perf_counter()
                conn.request("POST", "/mcp", body, headers)
                resp = conn.getresponse()
                data = resp.read()
                times.append(time.perf_counter() - t)
                if resp.status != 200 or b'"isError":false' not in data:
                    raise SystemExit(f"{name}: unexpected answer {resp.status} {data[:200]!r}")
            times.sort()
            print(f"  {name:<20} mean {sum(times) / len(times) * 1e6:7.0f} us   p50 {times[len(times) // 2] * 1e6:7.0f} us"
                  f"   p99 {times[int(len(times) * 0.99)] * 1e6:7.0f} us")
    finally:
        daemon.terminate()
        daemon.wait(timeout=10)
        subprocess.run(["rm", "-rf", tmp])


if __name__ == "__main__":
    main()
