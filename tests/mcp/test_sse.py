"""The legacy HTTP+SSE transport (2024-11-05): GET /sse, POST /messages?session_id=ID."""
import json
import queue
import re
import socket
import threading

import pytest

import mcp_helpers as H

LEGACY = "2024-11-05"


class SseClient:
    """GET /sse; events are read by a thread into a queue."""

    def __init__(self, http, headers=None):
        self.http = http
        self.conn = http.conn(timeout=30)
        self.conn.request("GET", "/sse", headers={"Accept": "text/event-stream", **(headers or {})})
        self.sock = self.conn.sock
        self.resp = self.conn.getresponse()
        self.status = self.resp.status
        self.events = queue.Queue()
        self.comments = 0
        if self.status == 200:
            self._t = threading.Thread(target=self._read, daemon=True)
            self._t.start()

    def _read(self):
        cur = {}
        try:
            while True:
                line = self.resp.readline()
                if not line:
                    break
                line = line.decode().rstrip("\r\n")
                if line == "":
                    if cur:
                        self.events.put(cur)
                    cur = {}
                elif line.startswith(":"):
                    self.comments += 1
                else:
                    field, _, value = line.partition(":")
                    value = value[1:] if value.startswith(" ") else value
                    cur[field] = cur[field] + "\n" + value if field == "data" and field in cur else value
        except Exception:  # noqa: BLE001 - the stream was closed under the reader
            pass
        self.events.put(None)

    def next_event(self, timeout=10):
        ev = self.events.get(timeout=timeout)
        assert ev is not None, "the SSE stream ended"
        return ev

    def endpoint(self):
        ev = self.next_event()
        assert ev.get("event") == "endpoint", ev
        m = re.fullmatch(r"/messages\?session_id=([A-Za-z0-9_-]+)", ev["data"])
        assert m, ev
        self.path = ev["data"]
        self.sid = m.group(1)
        return ev["data"]

    def post(self, msg, path=None):
        return self.http.request("POST", path or self.path, msg, {"Content-Type": "application/json"})

    def message(self, timeout=10):
        ev = self.next_event(timeout)
        assert ev.get("event") == "message", ev
        return json.loads(ev["data"])

    def request(self, rid, method, params=None):
        body = {"jsonrpc": "2.0", "id": rid, "method": method}
        if params is not None:
            body["params"] = params
        r = self.post(body)
        assert r.status == 202, r
        msg = self.message()
        assert msg["id"] == rid, msg
        return msg

    def close(self):
        # shut the socket down: the reader's file object would keep it open
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.resp.close()
        self.conn.close()
        self.sock.close()


@pytest.fixture
def sse(http):
    c = SseClient(http)
    assert c.status == 200
    assert c.resp.getheader("Content-Type").split(";")[0].strip() == "text/event-stream"
    c.endpoint()
    yield c
    c.close()


def _init(c, version=LEGACY):
    resp = c.request(1, "initialize", {"protocolVersion": version, "capabilities": {},
                                       "clientInfo": {"name": "homelab-tests", "version": "0"}})
    r = c.post({"jsonrpc": "2.0", "method": "notifications/initialized"})
    assert r.status == 202, r
    return resp


def test_endpoint_event(sse):
    assert sse.path.startswith("/messages?session_id=")
    assert len(sse.sid) >= 16


def test_initialize_answers_legacy_version(sse):
    # the 2024-11-05 transport: a client asking for 2024-11-05 gets it (older
    # clients drop a server that answers a version they do not know)
    resp = _init(sse)
    assert resp["result"]["protocolVersion"] == LEGACY, resp


def test_initialize_and_tools(sse, shared_db, library_tools):
    resp = _init(sse)
    assert resp["result"]["serverInfo"]["name"] == "homelab-mcpd"
    assert "tools" in resp["result"]["capabilities"]
    tools = sse.request(2, "tools/list", {})["result"]["tools"]
    assert [t["name"] for t in tools] == library_tools["__order__"]
    res = sse.request(3, "tools/call", {"name": "homelab_list_vms", "arguments": {}})["result"]
    assert H.tool_ok(res) == H.cli_json(shared_db, "tools", "call", "homelab_list_vms")
    res = sse.request(4, "tools/call", {"name": "homelab_get_vm", "arguments": {"name": "whisper"}})["result"]
    assert H.tool_ok(res) == H.cli_json(shared_db, "tools", "call", "homelab_get_vm", "name=whisper")
    res = sse.request(5, "tools/call", {"name": "homelab_get_vm", "arguments": {"name": "nosuch"}})["result"]
    assert H.tool_error(res) == "vm 'nosuch' not found"


def test_errors_arrive_as_messages(sse):
    _init(sse)
    assert sse.request(6, "no/such/method", {})["error"]["code"] == -32601
    assert sse.request(7, "tools/call", {"name": "nope", "arguments": {}})["error"]["code"] == -32602
    assert sse.request(8, "ping") == {"jsonrpc": "2.0", "id": 8, "result": {}}


def test_notification_gets_no_message(sse):
    _init(sse)
    r = sse.post({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 1}})
    assert r.status == 202, r
    # the next message is the ping's answer
    assert sse.request(9, "ping") == {"jsonrpc": "2.0", "id": 9, "result": {}}


def test_invalid_json_gets_parse_error(sse):
    _init(sse)
    r = sse.post('{"jsonrpc": "2.0", "id": 1,')
    if r.status == 202:
        msg = sse.message()
    else:
        assert r.status == 400, r
        msg = r.json()
    assert msg["id"] is None and msg["error"]["code"] == -32700, msg
    assert sse.request(10, "ping")["result"] == {}


def test_unknown_session_is_404(http):
    r = http.request("POST", "/messages?session_id=nosuchsession0123456789",
                     {"jsonrpc": "2.0", "id": 1, "method": "ping"}, {"Content-Type": "application/json"})
    assert r.status == 404, r


def test_missing_session_is_400(http):
    r = http.request("POST", "/messages", {"jsonrpc": "2.0", "id": 1, "method": "ping"},
                     {"Content-Type": "application/json"})
    assert r.status == 400, r


def test_closed_stream_ends_session(http):
    c = SseClient(http)
    c.endpoint()
    _init(c)
    path = c.path
    c.close()
    # once the daemon notices the closed stream, the session is gone
    import time
    deadline = time.monotonic() + 10
    status = None
    while time.monotonic() < deadline:
        status = http.request("POST", path, {"jsonrpc": "2.0", "id": 1, "method": "ping"},
                              {"Content-Type": "application/json"}).status
        if status == 404:
            break
        time.sleep(0.2)
    assert status == 404


def test_two_streams_are_separate(http):
    a, b = SseClient(http), SseClient(http)
    try:
        a.endpoint(), b.endpoint()
        assert a.sid != b.sid
        _init(a), _init(b)
        assert a.request(20, "ping")["id"] == 20
        assert b.request(21, "ping")["id"] == 21
        assert a.events.empty() and b.events.empty()
    finally:
        a.close(), b.close()


def test_foreign_origin_is_403(http):
    c = SseClient(http, headers={"Origin": "http://evil.example"})
    try:
        assert c.status == 403
    finally:
        c.close()


# ---------------------------------------- Streamable HTTP at /sse too ---
# The original server's documents configure Open WebUI as "MCP (Streamable
# HTTP)" at http://HOST:8000/sse: a POST there is Streamable HTTP, exactly as
# on /mcp, while a GET without a session id stays the legacy stream.

def test_streamable_http_at_sse(http):
    s = H.Session(http, path="/sse")
    assert s.init["result"]["protocolVersion"] == H.LATEST_VERSION
    assert H.tool_ok(s.call("homelab_get_vm", {"name": "whisper"}))["vm_id"] == 101
    # the same session is reachable on /mcp: one session table
    r = http.post_mcp({"jsonrpc": "2.0", "id": 7, "method": "ping"}, session=s.sid)
    assert r.status == 200 and r.messages()[-1] == {"jsonrpc": "2.0", "id": 7, "result": {}}, r
    assert s.delete().status == 200
    r = s.post({"jsonrpc": "2.0", "id": 8, "method": "ping"})
    assert r.status == 404, r


def test_streamable_get_at_sse_is_the_session_stream(http):
    s = H.Session(http, path="/sse")
    c = SseClient(http, headers={"Mcp-Session-Id": s.sid, "MCP-Protocol-Version": s.version})
    legacy = SseClient(http)
    try:
        assert c.status == 200
        assert legacy.status == 200 and legacy.endpoint().startswith("/messages?session_id=")
        _init(legacy)
        assert legacy.request(30, "ping")["id"] == 30
        # the Streamable stream opened with a comment, not an endpoint event
        assert c.events.empty()
        assert c.comments >= 1
    finally:
        c.close(), legacy.close()
        s.delete()


def test_streamable_and_legacy_sessions_do_not_mix(http):
    s = H.Session(http, path="/sse")
    legacy = SseClient(http)
    try:
        legacy.endpoint()
        # a legacy session id is no Streamable HTTP session, on GET or POST
        c = SseClient(http, headers={"Mcp-Session-Id": legacy.sid})
        assert c.status == 404
        c.close()
        r = http.post_mcp({"jsonrpc": "2.0", "id": 1, "method": "ping"}, session=legacy.sid, path="/sse")
        assert r.status == 404, r
        # and a Streamable HTTP session id is no legacy one
        r = http.request("POST", f"/messages?session_id={s.sid}", {"jsonrpc": "2.0", "id": 2, "method": "ping"},
                         {"Content-Type": "application/json"})
        assert r.status == 404, r
    finally:
        legacy.close()
        s.delete()


def test_sse_post_without_session_is_400(http):
    r = http.post_mcp({"jsonrpc": "2.0", "id": 1, "method": "ping"}, path="/sse")
    assert r.status == 400 and "Mcp-Session-Id" in r.json()["error"]["message"], r


def test_sse_other_methods_are_405(http):
    r = http.request("PUT", "/sse", "{}", {"Content-Type": "application/json"})
    assert r.status == 405 and r.header("allow") == "GET, POST, DELETE", r
