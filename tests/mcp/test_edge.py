"""homelab-mcpd at its network edge, tried the way an attacker on the LAN or a
low-privilege token holder would (the security review of issue 8): auth that
must fail closed, slow clients that must not take every worker, batches and
sessions with limits, every refusal on the record, no secret left in memory.

Distinct peers are modelled with loopback source addresses of their own
(127.0.0.2, 127.0.0.3): 127.0.0.1 and ::1 are the addresses of local clients
and of a reverse proxy on this machine, which the per-peer cap exempts."""
import json
import os
import re
import socket
import sqlite3
import subprocess
import threading
import time

import pytest

import mcp_helpers as H


def _token(db, name="reader", scope="inventory:read"):
    return H.create_token(db, name, scope)


def _bearer(tok):
    return {"Authorization": f"Bearer {tok}"}


def _metric(body, name):
    m = re.search(rf"^{name} (\d+)$", body.decode(), re.M)
    assert m, body
    return int(m.group(1))


def _audit(db, action="auth_refused"):
    return H.cli_json(db, "audit", "list", "--action", action, "--limit", "1000")["entries"]


# --------------------------------------------------- 1: auth fails closed ---

class TokenTableAway:
    """The token table out of reach, as a database error leaves it: the
    daemon's token count fails (no such table) until it is back."""

    def __init__(self, db):
        self.db = db
        self._sql("ALTER TABLE api_tokens RENAME TO api_tokens_away")

    def _sql(self, stmt):
        con = sqlite3.connect(self.db, timeout=10)
        con.execute(stmt)
        con.commit()
        con.close()

    def release(self):
        self._sql("ALTER TABLE api_tokens_away RENAME TO api_tokens")


def test_token_lookup_error_is_503_never_anonymous(start_daemon, tmp_path):
    db = H.make_demo_db(tmp_path / "broken.db")
    tok = _token(db)
    d = start_daemon(db=db)
    http = d.http()
    assert http.post_mcp(H.init_body(), version=None).status == 401  # tokens exist
    away = TokenTableAway(db)
    try:
        r = http.post_mcp(H.init_body(), version=None)
        assert r.status == 503, r  # before the fix: 200, an anonymous session
        assert "cannot check API tokens" in r.body.decode() and r.header("retry-after") == "5", r
        r = http.post_mcp(H.init_body(), version=None, extra=_bearer(tok))
        assert r.status == 503, r
        r = http.request("GET", "/sse", headers={"Accept": "text/event-stream"})
        assert r.status == 503, r
        r = http.request("POST", "/messages?session_id=x", "{}", {"Content-Type": "application/json"})
        assert r.status == 503, r
    finally:
        away.release()
    assert http.post_mcp(H.init_body(), version=None).status == 401
    assert H.Session(http, extra=_bearer(tok)).call("homelab_list_vms")["isError"] is False


def test_tokens_gone_while_running(start_daemon, tmp_path):
    """Revoked tokens still count: the daemon keeps asking for one. With the
    last token row gone, the loopback-only rule holds per request, not only
    at start: a loopback client is served without a token (a client on the
    network is refused: tests/unit/mcpd_edge.c)."""
    db = H.make_demo_db(tmp_path / "revoke.db")
    tok = _token(db)
    d = start_daemon(db=db)
    http = d.http()
    assert http.post_mcp(H.init_body(), version=None).status == 401
    H.cli(db, "--yes", "tokens", "revoke", "reader")
    assert http.post_mcp(H.init_body(), version=None).status == 401
    assert http.post_mcp(H.init_body(), version=None, extra=_bearer(tok)).status == 401
    con = sqlite3.connect(db)
    con.execute("DELETE FROM api_tokens")
    con.commit()
    con.close()
    assert http.post_mcp(H.init_body(), version=None).status == 200


# ----------------------------------------------- 3: slow clients, caps ---

def _half_header(src, port):
    s = socket.create_connection((H.HOST, port), timeout=10, source_address=(src, 0))
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
    return s


def _closed_within(sock, seconds):
    """Did the server close sock (or answer and close) within seconds?"""
    sock.settimeout(seconds)
    try:
        while sock.recv(4096):
            pass
        return True
    except socket.timeout:
        return False
    except OSError:
        return True


def _healthz_time(port, src="127.0.0.1"):
    t0 = time.monotonic()
    s = socket.create_connection((H.HOST, port), timeout=20, source_address=(src, 0))
    try:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    finally:
        s.close()
    assert data.startswith(b"HTTP/1.1 200"), data
    return time.monotonic() - t0


def test_slow_headers_from_one_peer_cannot_take_every_worker(start_daemon, demo_db):
    """70 connections from one address that send half a header and wait
    (before the fix, /healthz then got no answer for 10 s): the address gets
    its share of the workers (--peer-connections, a quarter of --threads by
    default), the rest are cut at once, and everyone else is served."""
    d = start_daemon(db=demo_db, args=["--threads", "16"])  # 4 per peer
    socks = [_half_header("127.0.0.2", d.port) for _ in range(70)]
    try:
        assert _healthz_time(d.port) < 2.0
        assert _healthz_time(d.port, src="127.0.0.3") < 2.0
        cut = sum(_closed_within(s, 0.5) for s in socks)
        assert cut >= 60, cut
        assert _metric(d.http().request("GET", "/metrics").body, "homelab_mcpd_peer_refused_total") >= 60
    finally:
        for s in socks:
            s.close()


def test_slow_header_is_cut_after_the_request_timeout(start_daemon, demo_db):
    """Local clients are not capped, so a local flood of slow headers holds
    every worker, but only for the header timeout (it was 60 s)."""
    d = start_daemon(db=demo_db, args=["--threads", "8", "--request-timeout-s", "2"])
    socks = [_half_header("127.0.0.1", d.port) for _ in range(12)]
    try:
        t0 = time.monotonic()
        assert all(_closed_within(s, 6) for s in socks[:8])
        assert time.monotonic() - t0 < 6
        assert _healthz_time(d.port) < 4.0
    finally:
        for s in socks:
            s.close()


def test_slow_body_is_cut(start_daemon, demo_db):
    """A body that trickles in (a byte a second, under the per-read timeout)
    is cut after twice the request timeout: 408, and the worker is free."""
    d = start_daemon(db=demo_db, args=["--request-timeout-s", "2"])
    s = socket.create_connection((H.HOST, d.port), timeout=20)
    try:
        s.sendall(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                  b"Accept: application/json, text/event-stream\r\nContent-Length: 1000\r\n\r\n{")
        t0, answer = time.monotonic(), b""
        s.settimeout(1.0)
        while time.monotonic() - t0 < 15 and not answer:
            try:
                s.sendall(b" ")
            except OSError:
                break
            try:
                answer = s.recv(4096)
            except socket.timeout:
                continue
            except OSError:
                break
        elapsed = time.monotonic() - t0
        s.settimeout(5)
        try:
            while True:
                more = s.recv(4096)
                if not more:
                    break
                answer += more
        except OSError:
            pass
        assert answer.startswith(b"HTTP/1.1 408"), answer
        assert b"did not arrive in time" in answer
        assert 3.5 < elapsed < 9, elapsed
    finally:
        s.close()
    assert _healthz_time(d.port) < 2.0


def test_body_shorter_than_content_length_is_408(start_daemon, demo_db):
    d = start_daemon(db=demo_db, args=["--request-timeout-s", "1"])
    s = socket.create_connection((H.HOST, d.port), timeout=20)
    try:
        s.sendall(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                  b"Accept: application/json\r\nContent-Length: 100\r\n\r\n{\"jsonrpc\":")
        s.shutdown(socket.SHUT_WR)
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        assert data.startswith(b"HTTP/1.1 408"), data
    finally:
        s.close()


# ------------------------------------------------------------ 4: batches ---

def _batch(n, method="ping"):
    return [{"jsonrpc": "2.0", "id": i, "method": method} for i in range(n)]


@pytest.mark.parametrize("version", ["2025-11-25", "2025-06-18"])
def test_batches_are_refused_where_the_protocol_has_none(daemon, version):
    s = H.Session(daemon.http(), version=version)
    r = s.post(_batch(2))
    assert r.status == 200, r
    msg = r.json()
    assert msg["error"]["code"] == -32600, msg
    assert f"batches are not part of MCP {version}" in msg["error"]["message"], msg


def test_batch_entries_are_capped(daemon):
    s = H.Session(daemon.http(), version="2025-03-26")
    r = s.post(_batch(64))
    assert r.status == 200 and [m["id"] for m in r.json()] == list(range(64)), r
    r = s.post(_batch(65))
    assert r.status == 200 and "at most 64" in r.json()["error"]["message"], r
    # the review's 4 MiB batch of tools/list calls (89,240 of them): refused, no 1 GB reply
    big = json.dumps(_batch(80000, "tools/list"), separators=(",", ":"))
    assert len(big) < 4 * 1024 * 1024
    r = s.post(big)
    assert r.status == 200 and len(r.body) < 1000 and "at most 64" in r.body.decode(), r


def test_batch_reply_is_capped(start_daemon, tmp_path):
    """64 calls whose answers would make a reply of about 20 MB: the answers
    stop at 4 MiB and the rest are not run, each saying so."""
    db = H.make_demo_db(tmp_path / "many.db")
    con = sqlite3.connect(db)
    con.executemany("INSERT INTO virtual_machines (vm_id, name, ip, status, host_id) VALUES (?, ?, ?, ?, 1)",
                    [(1000 + i, f"vm-{i:05d}", f"127.1.{i // 250}.{i % 250 + 1}", "running") for i in range(1500)])
    con.commit()
    con.close()
    d = start_daemon(db=db)
    s = H.Session(d.http(), version="2025-03-26")
    calls = [{"jsonrpc": "2.0", "id": i, "method": "tools/call",
              "params": {"name": "homelab_list_vms", "arguments": {}}} for i in range(64)]
    r = s.post(calls)
    assert r.status == 200, r
    answers = r.json()
    assert len(answers) == 64
    assert len(r.body) < 6 * 1024 * 1024, len(r.body)
    ran = [a for a in answers if "result" in a]
    skipped = [a for a in answers if "error" in a]
    assert 1 <= len(ran) < 64 and len(ran) + len(skipped) == 64
    assert all("not run: the batch's answers passed 4 MiB" in a["error"]["message"] for a in skipped)
    assert [a["id"] for a in answers] == list(range(64))


# ------------------------------------------- 5 and 6: every refusal, once ---

def test_bad_token_flood_writes_one_row_a_minute(start_daemon, tmp_path):
    db = H.make_demo_db(tmp_path / "flood.db")
    _token(db)
    d = start_daemon(db=db)
    http = d.http()
    for i in range(300):
        r = http.post_mcp(H.init_body(), version=None, extra=_bearer(f"hlk_bad{i}"))
        assert r.status == 401
    r = http.request("GET", "/metrics")
    assert _metric(r.body, "homelab_mcpd_auth_refused_total") == 300
    rows = _audit(db)
    assert len(rows) == 1, rows  # the first, at once; before the fix: 300 rows
    d.stop_and_check()
    rows = _audit(db)
    assert len(rows) == 2, rows
    assert any("299 more refusals from this address" in row["details"] for row in rows), rows


@pytest.mark.parametrize("path", ["/mcp", "/sse"])
def test_missing_scope_is_audited(start_daemon, tmp_path, path):
    db = H.make_demo_db(tmp_path / "scope.db")
    tok = _token(db, "narrow", "inventory:read")
    d = start_daemon(db=db)
    s = H.Session(d.http(), extra=_bearer(tok), path=path)
    resp = s.post({"jsonrpc": "2.0", "id": 5, "method": "tools/call",
                   "params": {"name": "homelab_get_credentials", "arguments": {"target": "vm:whisper"}}})
    assert resp.status == 403 and resp.messages()[-1]["error"]["code"] == -32003, resp
    rows = _audit(db)
    assert len(rows) == 1, rows
    assert rows[0]["principal"] == "narrow" and rows[0]["client"] == "127.0.0.1", rows
    assert "lacks the scope credentials:read" in rows[0]["details"], rows


def test_missing_scope_is_audited_on_legacy_sse(start_daemon, tmp_path):
    from test_sse import SseClient, _init
    db = H.make_demo_db(tmp_path / "scope-legacy.db")
    tok = _token(db, "narrow", "inventory:read")
    d = start_daemon(db=db)
    c = SseClient(d.http(), headers=_bearer(tok))
    try:
        c.endpoint()
        c.http = _AuthHttp(d.http(), tok)
        _init(c)
        msg = c.request(9, "tools/call", {"name": "homelab_get_credentials", "arguments": {"target": "vm:whisper"}})
        assert msg["error"]["code"] == -32003, msg
    finally:
        c.close()
    rows = _audit(db)
    assert len(rows) == 1 and rows[0]["principal"] == "narrow", rows


class _AuthHttp:
    """An H.Http whose requests carry a bearer token."""

    def __init__(self, http, tok):
        self._http, self._tok = http, tok

    def request(self, method, path, body=None, headers=None, timeout=None):
        return self._http.request(method, path, body, {**(headers or {}), **_bearer(self._tok)}, timeout)


# ------------------------------------------------- 12: sessions, CORS ---

def test_one_token_cannot_evict_other_clients_sessions(start_daemon, tmp_path):
    db = H.make_demo_db(tmp_path / "evict.db")
    a, b = _token(db, "a"), _token(db, "b")
    d = start_daemon(db=db)
    http = d.http()
    theirs = H.Session(http, extra=_bearer(b))
    mine = [H.Session(http, extra=_bearer(a)) for _ in range(520)]
    # b's session survived 520 new sessions of a's; a's oldest made room
    assert theirs.rpc("ping")["result"] == {}
    assert mine[-1].rpc("ping")["result"] == {}
    r = mine[0].post({"jsonrpc": "2.0", "id": 1, "method": "ping"})
    assert r.status == 404, r
    alive = sum(m.post({"jsonrpc": "2.0", "id": 2, "method": "ping"}).status == 200 for m in mine[-70:])
    assert alive == 64, alive


def test_allowed_origin_can_read_the_answers(start_daemon, demo_db):
    origin = "http://webui.example:3000"
    d = start_daemon(db=demo_db, args=["--allow-origin", origin])
    http = d.http()
    r = http.request("OPTIONS", "/mcp", headers={"Origin": origin, "Access-Control-Request-Method": "POST",
                                                 "Access-Control-Request-Headers": "content-type, mcp-session-id"})
    assert r.status == 204, r
    assert r.header("access-control-allow-origin") == origin
    assert "POST" in r.header("access-control-allow-methods")
    assert "Mcp-Session-Id" in r.header("access-control-allow-headers")
    r = http.post_mcp(H.init_body(), version=None, extra={"Origin": origin})
    assert r.status == 200, r
    assert r.header("access-control-allow-origin") == origin
    assert "Mcp-Session-Id" in r.header("access-control-expose-headers")
    # a foreign origin gets neither
    r = http.request("OPTIONS", "/mcp", headers={"Origin": "http://evil.example"})
    assert r.status == 403 and r.header("access-control-allow-origin") is None, r
    r = http.post_mcp(H.init_body(), version=None, extra={"Origin": "http://evil.example"})
    assert r.status == 403 and r.header("access-control-allow-origin") is None, r


# ------------------------------------------- 10: no password left behind ---

def _memory_holds(pid, needles):
    """Which of needles are in the writable memory of process pid."""
    found = set()
    with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/mem", "rb", 0) as mem:
        for line in maps:
            fields = line.split()
            if "w" not in fields[1] or (len(fields) > 5 and fields[5].startswith("/")):
                continue  # only the heap, stacks and anonymous mappings
            lo, hi = (int(x, 16) for x in fields[0].split("-"))
            if hi - lo > 1 << 30:
                continue  # a sanitizer's shadow memory, not the program's
            for at in range(lo, hi, 16 << 20):
                try:
                    mem.seek(at)
                    chunk = mem.read(min((16 << 20) + 64, hi - at))
                except OSError:
                    continue
                found.update(n for n in needles if n in chunk)
    return found


def test_password_is_not_left_in_the_heap(start_daemon, tmp_path):
    db = H.make_demo_db(tmp_path / "heap.db")
    key = H.cli(db, "creds", "keygen").stdout.strip()
    secret = "Heap-Secret-7f3a9c"
    subprocess.run([H.homelab_bin(), "--db", db, "creds", "set", "vm:whisper", "--user", "ccpm", "--password"],
                   input=secret + "\n", text=True, check=True, capture_output=True,
                   env=H.clean_env({"HOMELAB_DB_KEY": key}), timeout=60)
    d = start_daemon(db=db, env={"HOMELAB_DB_KEY": key})
    s = H.Session(d.http())
    for _ in range(3):
        got = H.tool_ok(s.call("homelab_get_credentials", {"target": "vm:whisper"}))
        assert got["password"] == secret
    time.sleep(0.2)
    assert _memory_holds(d.proc.pid, [secret.encode()]) == set()
