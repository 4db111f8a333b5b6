"""The daemon's hot path against other processes writing the same database.

homelab-mcpd keeps a library context (a SQLite connection with its prepared
statements) per worker thread and remembers verified tokens for a short time
(bench/README.md, issue 12). Neither may hide a change another process made:
a token revoked with the CLI is refused on the very next request, on the
same keep-alive connection (same worker, same cached verification) and on
new ones; a row written by the CLI is in the very next answer. Each check
runs many times, with requests on several connections in between, so a
stale snapshot, a cache that outlives a revocation or a statement left
holding a read transaction shows up.
"""
import http.client
import json
import threading

import mcp_helpers as H

INIT = H.init_body()


class Client:
    """One keep-alive connection with its own session and a bearer token."""

    def __init__(self, port, token):
        self.conn = http.client.HTTPConnection(H.HOST, port, timeout=20)
        self.token = token
        self.rid = 0
        r = self.post(INIT, session=False)
        assert r[0] == 200, r
        self.sid = r[1]
        assert self.post({"jsonrpc": "2.0", "method": "notifications/initialized"})[0] == 202

    def post(self, body, session=True, token=None):
        h = {"Content-Type": "application/json", "Accept": H.ACCEPT_BOTH,
             "Authorization": "Bearer " + (token or self.token)}
        if session:
            h.update({"Mcp-Session-Id": self.sid, "MCP-Protocol-Version": H.LATEST_VERSION})
        self.conn.request("POST", "/mcp", json.dumps(body), h)
        r = self.conn.getresponse()
        data = r.read()
        return r.status, r.getheader("Mcp-Session-Id"), data

    def call(self, name, args, token=None):
        self.rid += 1
        st, _, data = self.post({"jsonrpc": "2.0", "id": self.rid, "method": "tools/call",
                                 "params": {"name": name, "arguments": args}}, token=token)
        return st, (json.loads(data)["result"] if st == 200 else data)

    def close(self):
        self.conn.close()


def test_token_revoked_by_another_process_is_refused_on_the_next_request(start_daemon, demo_db):
    keep = H.create_token(demo_db, "keeper", "inventory:read")
    d = start_daemon(db=demo_db)
    other = Client(d.port, keep)
    for round_ in range(8):
        token = H.create_token(demo_db, f"short{round_}", "inventory:read")
        clients = [Client(d.port, token) for _ in range(3)]
        # warm every worker these connections sit on: the verification is cached now
        for _ in range(5):
            for c in clients:
                st, res = c.call("homelab_get_vm", {"name": "whisper"})
                assert st == 200 and res["isError"] is False, res
        H.cli(demo_db, "tokens", "revoke", f"short{round_}")
        # the very next request on each warm connection, and on a new one
        for c in clients:
            st, body = c.call("homelab_get_vm", {"name": "whisper"})
            assert st == 401, (round_, st, body)
            assert b"revoked" in body, body
            c.close()
        fresh = http.client.HTTPConnection(H.HOST, d.port, timeout=20)
        fresh.request("POST", "/mcp", json.dumps(INIT), {"Content-Type": "application/json", "Accept": H.ACCEPT_BOTH,
                                                         "Authorization": "Bearer " + token})
        r = fresh.getresponse()
        assert r.status == 401, r.read()
        fresh.close()
        # another token's cached verification is untouched
        st, res = other.call("homelab_get_vm", {"name": "whisper"})
        assert st == 200 and res["isError"] is False, res
    other.close()


def test_a_wrong_secret_for_a_cached_token_id_is_refused(start_daemon, demo_db):
    token = H.create_token(demo_db, "cached", "inventory:read")
    d = start_daemon(db=demo_db)
    c = Client(d.port, token)
    for _ in range(5):
        assert c.call("homelab_get_vm", {"name": "whisper"})[0] == 200
    # same id, another secret (each character of the secret's last few replaced)
    for i in range(1, 6):
        ch = token[-i]
        forged = token[:-i] + ("A" if ch != "A" else "B") + token[len(token) - i + 1:]
        st, body = c.call("homelab_get_vm", {"name": "whisper"}, token=forged)
        assert st == 401, (forged, st, body)
    assert c.call("homelab_get_vm", {"name": "whisper"})[0] == 200
    c.close()


def test_a_token_created_by_another_process_works_at_once(start_daemon, demo_db):
    H.create_token(demo_db, "first", "inventory:read")
    d = start_daemon(db=demo_db)
    for i in range(5):
        token = H.create_token(demo_db, f"new{i}", "inventory:read")
        c = Client(d.port, token)
        assert c.call("homelab_get_vm", {"name": "whisper"})[0] == 200
        c.close()


def test_the_first_token_created_by_another_process_closes_the_door_at_once(start_daemon, demo_db):
    """Without tokens a loopback client needs none; once another process has
    created one, the very next request needs it: the count of tokens is read
    per request, never from a stale cache."""
    d = start_daemon(db=demo_db)
    http_ = d.http()
    for _ in range(5):
        assert http_.post_mcp(INIT, version=None).status == 200
    token = H.create_token(demo_db, "first", "inventory:read")
    assert http_.post_mcp(INIT, version=None).status == 401
    c = Client(d.port, token)
    assert c.call("homelab_get_vm", {"name": "whisper"})[0] == 200
    c.close()


def test_a_row_written_by_another_process_is_in_the_next_answer(start_daemon, demo_db):
    token = H.create_token(demo_db, "reader", "inventory:read")
    d = start_daemon(db=demo_db)
    clients = [Client(d.port, token) for _ in range(4)]
    for i in range(10):
        name, ip = f"hot{i}", f"127.0.9.{i + 10}"
        # every connection has read the inventory (its worker's statements are warm)
        for c in clients:
            st, res = c.call("homelab_lookup_ip", {"ip": ip})
            assert st == 200 and res["isError"] is True, res
            st, res = c.call("homelab_list_vms", {})
            assert st == 200 and name not in [v["name"] for v in res["structuredContent"]["vms"]], res
        H.cli(demo_db, "vms", "add", name, "--id", str(900 + i), "--ip", ip, "--status", "running")
        for c in clients:
            st, res = c.call("homelab_lookup_ip", {"ip": ip})
            assert st == 200 and res["structuredContent"]["held_by"] == ["vm"], (i, res)
            assert res["structuredContent"]["vm"]["name"] == name
            st, res = c.call("homelab_get_vm", {"name": name})
            assert st == 200 and res["isError"] is False, res
        H.cli(demo_db, "vms", "set", name, "--status", "stopped")
        for c in clients:
            st, res = c.call("homelab_get_vm", {"name": name})
            assert res["structuredContent"]["status"] == "stopped", res
        H.cli(demo_db, "vms", "rm", name)
        for c in clients:
            st, res = c.call("homelab_get_vm", {"name": name})
            assert st == 200 and res["isError"] is True, res
    for c in clients:
        c.close()


def test_concurrent_readers_while_another_process_writes(start_daemon, demo_db):
    """Readers on 8 connections while the CLI adds VMs: no error, no
    failure, and once the CLI has returned, every reader sees the VM."""
    token = H.create_token(demo_db, "busy", "inventory:read")
    d = start_daemon(db=demo_db)
    stop = threading.Event()
    failures = []
    added = []
    lock = threading.Lock()

    def reader():
        c = Client(d.port, token)
        try:
            while not stop.is_set():
                with lock:
                    must = list(added)
                st, res = c.call("homelab_list_vms", {"status": "paused"})
                if st != 200 or res["isError"]:
                    failures.append(res)
                    return
                names = {v["name"] for v in res["structuredContent"]["vms"]}
                missing = [n for n in must if n not in names]
                if missing:
                    failures.append(("not seen", missing))
                    return
        finally:
            c.close()

    threads = [threading.Thread(target=reader) for _ in range(8)]
    for t in threads:
        t.start()
    try:
        for i in range(12):
            name = f"busy{i}"
            H.cli(demo_db, "vms", "add", name, "--id", str(950 + i), "--status", "paused")
            with lock:
                added.append(name)
    finally:
        stop.set()
        for t in threads:
            t.join(60)
    assert not failures, failures[:3]


def test_an_expiry_set_by_another_process_is_enforced_on_the_next_request(start_daemon, demo_db):
    """Another process moves a token's expiry into the past (the CLI has no
    command for it: plain SQL, as any other writer could): the next request
    with it is refused, though its verification was just cached."""
    import sqlite3
    token = H.create_token(demo_db, "expiring", "inventory:read")
    d = start_daemon(db=demo_db)
    c = Client(d.port, token)
    for _ in range(5):
        assert c.call("homelab_get_vm", {"name": "whisper"})[0] == 200
    db = sqlite3.connect(demo_db)
    db.execute("UPDATE api_tokens SET expires = '2000-01-01 00:00:00' WHERE name = 'expiring'")
    db.commit()
    db.close()
    st, body = c.call("homelab_get_vm", {"name": "whisper"})
    assert st == 401 and b"expired" in body, (st, body)
    c.close()


def test_tools_list_follows_each_tokens_scopes_on_warm_connections(start_daemon, demo_db, library_tools):
    """tools/list answers are kept by scope set: tokens with different scopes,
    more sets than are kept, asked in turns on the same connections, each
    get exactly the tools their scopes allow."""
    scope_sets = ["inventory:read", "audit:read", "inventory:read,audit:read", "ollama:read", "ssh:exec",
                  "credentials:read", "inventory:write", "inventory:read,ollama:read", "audit:read,ssh:exec",
                  "inventory:read,credentials:read,audit:read"]
    tokens = []
    for i, scopes in enumerate(scope_sets):
        proc = H.cli(demo_db, "tokens", "create", f"lister{i}", *sum((["--scope", s] for s in scopes.split(",")), []))
        tokens.append((set(scopes.split(",")), H.TOKEN_RE.search(proc.stdout).group(0)))
    d = start_daemon(db=demo_db)
    clients = [Client(d.port, tok) for _, tok in tokens]
    names = library_tools["__order__"]
    for round_ in range(3):
        for (scopes, tok), c in zip(tokens, clients):
            c.rid += 1
            st, _, data = c.post({"jsonrpc": "2.0", "id": c.rid, "method": "tools/list"})
            assert st == 200, data
            got = [t["name"] for t in json.loads(data)["result"]["tools"]]
            want = [n for n in names if library_tools[n]["scope"] in scopes]
            assert got == want, (scopes, got)
    for c in clients:
        c.close()


def raw_post(c, text):
    """POST text as it is (not JSON-encoded) on c's connection and session."""
    h = {"Content-Type": "application/json", "Accept": H.ACCEPT_BOTH, "Authorization": "Bearer " + c.token,
         "Mcp-Session-Id": c.sid, "MCP-Protocol-Version": H.LATEST_VERSION}
    c.conn.request("POST", "/mcp", text, h)
    r = c.conn.getresponse()
    return r.status, r.read()


def test_bad_bodies_leave_nothing_behind_for_the_next_request(start_daemon, demo_db):
    """Each worker keeps one JSON tokener for its life: a body it could not
    parse (cut short, two values, bad UTF-8, nested too deep) must not leave
    anything for the next body on the same connection."""
    token = H.create_token(demo_db, "parser", "inventory:read")
    d = start_daemon(db=demo_db)
    clients = [Client(d.port, token) for _ in range(3)]
    call = '{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"homelab_get_vm","arguments":{"name":"whisper"}}}'
    bad = [b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"homelab_get_vm","arguments":{"name":',
           b'{"jsonrpc":"2.0","id":1,"method":"ping"} {"x":1}',
           b'{"jsonrpc":"2.0","id":1,"method":"ping","params":{"a":"\xc0\x93"}}',
           b'[' * 5000, b'{"a":[1,2,', b'"unterminated', b'{"jsonrpc":"2.0","id":1,"method":"ping"}]']
    for round_ in range(4):
        for i, text in enumerate(bad):
            for c in clients:
                st, body = raw_post(c, text)
                assert st == 400 and b"-32700" in body, (round_, i, st, body[:200])
                c.rid += 1
                st, body = raw_post(c, (call % c.rid).encode())
                assert st == 200, (round_, i, body[:200])
                res = json.loads(body)
                assert res["id"] == c.rid and res["result"]["isError"] is False, res
                assert res["result"]["structuredContent"]["name"] == "whisper", res
    for c in clients:
        c.close()


def test_arguments_are_checked_on_warm_contexts_after_refusals(start_daemon, demo_db):
    """A worker's context keeps each tool's parsed input schema: refused
    arguments (type, enum, bound, unknown or missing property), whose messages
    are built from the schema, alternate with good calls on the same
    connections, many times over: every refusal says the same thing each
    time and every good call is answered."""
    token = H.create_token(demo_db, "checker", "inventory:read")
    d = start_daemon(db=demo_db)
    clients = [Client(d.port, token) for _ in range(3)]
    refused = [("homelab_get_vm", {"vm_id": 0}, "at least 1"),
               ("homelab_get_vm", {"vm_id": "x"}, "integer"),
               ("homelab_list_vms", {"status": "bogus"}, "bogus"),
               ("homelab_list_vms", {"host": 5}, "string"),
               ("homelab_list_vms", {"nope": 1}, "nope"),
               ("homelab_lookup_ip", {}, "ip")]
    first = {}
    for round_ in range(5):
        for c in clients:
            for name, args, says in refused:
                st, res = c.call(name, args)
                assert st == 200 and res["isError"] is True, (name, args, res)
                text = res["content"][0]["text"]
                assert says in text, (name, args, text)
                assert first.setdefault((name, json.dumps(args)), text) == text, (round_, text)
                st, res = c.call("homelab_list_vms", {"status": "running"})
                assert st == 200 and res["isError"] is False, res
                assert "whisper" in [v["name"] for v in res["structuredContent"]["vms"]], res
                st, res = c.call("homelab_get_vm", {"name": "whisper"})
                assert st == 200 and res["structuredContent"]["name"] == "whisper", res
    for c in clients:
        c.close()


def test_after_an_idle_pause_warm_connections_answer_and_see_new_rows(start_daemon, demo_db):
    """An idle daemon gives freed memory back (malloc_trim, a quarter second
    after the last request): the contexts and tokeners its workers keep are
    not freed memory, and a row the CLI wrote during the pause is in the
    first answer after it."""
    import time
    token = H.create_token(demo_db, "sleeper", "inventory:read")
    d = start_daemon(db=demo_db)
    clients = [Client(d.port, token) for _ in range(4)]
    for i in range(3):
        for c in clients:
            for _ in range(3):
                st, res = c.call("homelab_get_vm", {"name": "whisper"})
                assert st == 200 and res["structuredContent"]["name"] == "whisper", res
        name = f"nap{i}"
        H.cli(demo_db, "vms", "add", name, "--id", str(970 + i), "--status", "stopped")
        time.sleep(0.8)  # quiet for three looks of the trimming thread
        for c in clients:
            st, res = c.call("homelab_get_vm", {"name": name})
            assert st == 200 and res["isError"] is False and res["structuredContent"]["status"] == "stopped", res
            st, res = c.call("homelab_list_vms", {"bogus": 1})
            assert st == 200 and res["isError"] is True and "bogus" in res["content"][0]["text"], res
    for c in clients:
        c.close()
