"""homelab-mcpd over Streamable HTTP at /mcp, spoken raw with http.client."""
import json
import os
import pathlib
import re
import shutil
import signal
import socket
import tempfile
import threading
import time

import pytest

import mcp_helpers as H
import unprivileged
from conftest import ALLOWED_ORIGIN, KEEPALIVE_S

NAME_RE = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
MAX_BODY = 4 * 1024 * 1024


# ------------------------------------------------------- plain endpoints ---

def test_healthz(http):
    r = http.request("GET", "/healthz")
    assert r.status == 200, r
    assert r.body in (b"ok", b"ok\n"), r


def _metric_lines(body):
    return [line for line in body.decode().splitlines() if line and not line.startswith("#")]


def _metric(body, name, labels=None):
    """The value of one sample (the sum over all label sets when labels is None)."""
    total, found = 0.0, False
    pat = re.compile(r"^" + re.escape(name) + r"(\{[^}]*\})? ([0-9.eE+-]+)$")
    for line in _metric_lines(body):
        m = pat.match(line)
        if m and (labels is None or m.group(1) == labels):
            found = True
            total += float(m.group(2))
    assert found, (name, labels, body)
    return total


# The brief said "lines like homelab_mcpd_requests_total{...}"; the daemon names
# the HTTP counter homelab_mcpd_http_requests_total{code="2xx"}.
REQUESTS = "homelab_mcpd_http_requests_total"
TOOL_CALLS = "homelab_mcpd_tool_calls_total"


def test_metrics_prometheus_text(http, session):
    r = http.request("GET", "/metrics")
    assert r.status == 200, r
    assert r.content_type == "text/plain", r
    for line in _metric_lines(r.body):
        assert re.match(r"^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})? [-+0-9.eE]+( [0-9]+)?$", line), line
    before = _metric(r.body, REQUESTS, '{code="2xx"}')
    for _ in range(5):
        assert session.rpc("ping")["result"] == {}
    after = _metric(http.request("GET", "/metrics").body, REQUESTS, '{code="2xx"}')
    assert after >= before + 5, (before, after)


def test_metrics_count_tool_calls(http, session):
    body = http.request("GET", "/metrics").body
    ok0, err0 = _metric(body, TOOL_CALLS, '{result="ok"}'), _metric(body, TOOL_CALLS, '{result="error"}')
    H.tool_ok(session.call("homelab_list_vms"))
    H.tool_ok(session.call("homelab_list_hosts"))
    H.tool_error(session.call("homelab_get_vm", {"name": "nosuch"}))
    body = http.request("GET", "/metrics").body
    assert _metric(body, TOOL_CALLS, '{result="ok"}') == ok0 + 2
    assert _metric(body, TOOL_CALLS, '{result="error"}') == err0 + 1
    sessions = _metric(body, "homelab_mcpd_sessions")
    assert sessions >= 1


def test_unknown_path_is_404(http):
    assert http.request("GET", "/nosuch").status == 404


# ------------------------------------------------------------ initialize ---

@pytest.mark.parametrize("version", H.SUPPORTED_VERSIONS)
def test_initialize_each_version(http, version):
    r = http.post_mcp(H.init_body(version, rid=7), version=None)
    assert r.status == 200, r
    assert r.content_type in ("application/json", "text/event-stream"), r
    (msg,) = r.messages()
    assert msg["jsonrpc"] == "2.0" and msg["id"] == 7, msg
    res = msg["result"]
    assert res["protocolVersion"] == version, res
    assert res["serverInfo"]["name"] == "homelab-mcpd", res
    assert isinstance(res["serverInfo"]["version"], str) and res["serverInfo"]["version"], res
    assert "tools" in res["capabilities"], res
    sid = r.header("mcp-session-id")
    assert sid and re.fullmatch(r"[\x21-\x7e]+", sid), r
    # the session answers with the negotiated version
    s = http.post_mcp({"jsonrpc": "2.0", "id": 8, "method": "ping"}, session=sid, version=version)
    assert s.status == 200 and s.messages() == [{"jsonrpc": "2.0", "id": 8, "result": {}}], s
    assert http.request("DELETE", "/mcp", headers={"Mcp-Session-Id": sid}).status == 200


@pytest.mark.parametrize("asked", ["1999-01-01", "2024-11-05"])
def test_initialize_unsupported_version_gets_a_supported_one(http, asked):
    # 2024-11-05 is the legacy HTTP+SSE transport's version, not one of /mcp's
    r = http.post_mcp(H.init_body(asked), version=None)
    assert r.status == 200, r
    assert r.messages()[0]["result"]["protocolVersion"] == H.LATEST_VERSION, r


def test_session_ids_are_distinct(http):
    ids = set()
    for _ in range(5):
        s = H.Session(http)
        ids.add(s.sid)
        assert len(s.sid) >= 16, s.sid
        s.delete()
    assert len(ids) == 5


# ---------------------------------------------------------- session rules ---

def test_missing_session_id_is_400(http, session):
    r = http.post_mcp({"jsonrpc": "2.0", "id": 1, "method": "ping"}, session=None)
    assert r.status == 400, r


def test_unknown_session_id_is_404(http, session):
    r = http.post_mcp({"jsonrpc": "2.0", "id": 1, "method": "ping"}, session="no-such-session-0123456789")
    assert r.status == 404, r


def test_unsupported_protocol_version_is_400(session):
    r = session.post({"jsonrpc": "2.0", "id": 1, "method": "ping"}, version="2099-01-01")
    assert r.status == 400, r
    r = session.post({"jsonrpc": "2.0", "id": 1, "method": "ping"}, version="2024-11-05")
    assert r.status == 400, r


def test_absent_protocol_version_is_accepted(session):
    r = session.post({"jsonrpc": "2.0", "id": 3, "method": "ping"}, version=None)
    assert r.status == 200, r
    assert r.messages() == [{"jsonrpc": "2.0", "id": 3, "result": {}}], r


@pytest.mark.parametrize("version", H.SUPPORTED_VERSIONS)
def test_each_supported_protocol_version_header(session, version):
    r = session.post({"jsonrpc": "2.0", "id": 4, "method": "ping"}, version=version)
    assert r.status == 200, r


def test_notification_is_202_without_body(session):
    r = session.post({"jsonrpc": "2.0", "method": "notifications/cancelled",
                      "params": {"requestId": 12345, "reason": "test"}})
    assert r.status == 202, r
    assert r.body == b"", r


def test_response_is_202_without_body(session):
    r = session.post({"jsonrpc": "2.0", "id": "srv-1", "result": {}})
    assert r.status == 202, r
    assert r.body == b"", r
    r = session.post({"jsonrpc": "2.0", "id": "srv-2", "error": {"code": -1, "message": "no"}})
    assert r.status == 202, r
    assert r.body == b"", r


def test_delete_ends_the_session(http):
    s = H.Session(http)
    assert s.rpc("ping")["result"] == {}
    r = s.delete()
    assert r.status == 200, r
    r = s.post({"jsonrpc": "2.0", "id": 1, "method": "ping"})
    assert r.status == 404, r
    assert s.delete().status == 404
    r = s.http.request("GET", "/mcp", headers={"Accept": "text/event-stream", "Mcp-Session-Id": s.sid})
    assert r.status == 404, r


def test_delete_without_session_is_400(http):
    assert http.request("DELETE", "/mcp").status == 400


# ---------------------------------------------------------------- Accept ---

def test_accept_json_only(session):
    r = session.post({"jsonrpc": "2.0", "id": 5, "method": "ping"}, accept="application/json")
    assert r.status == 200, r
    assert r.content_type == "application/json", r
    assert r.json() == {"jsonrpc": "2.0", "id": 5, "result": {}}


def test_accept_event_stream_only(session):
    r = session.post({"jsonrpc": "2.0", "id": 6, "method": "ping"}, accept="text/event-stream")
    assert r.status == 200, r
    assert r.content_type == "text/event-stream", r
    assert r.messages() == [{"jsonrpc": "2.0", "id": 6, "result": {}}], r


def test_accept_neither_is_406(session):
    r = session.post({"jsonrpc": "2.0", "id": 6, "method": "ping"}, accept="text/html")
    assert r.status == 406, r


# ------------------------------------------------------------ body limits ---

def _post_raw_body(http, body, session):
    c = http.conn(timeout=30)
    try:
        c.putrequest("POST", "/mcp")
        for k, v in (("Content-Type", "application/json"), ("Accept", H.ACCEPT_BOTH),
                     ("Mcp-Session-Id", session.sid), ("MCP-Protocol-Version", session.version),
                     ("Content-Length", str(len(body)))):
            c.putheader(k, v)
        c.endheaders()
        try:
            view = memoryview(body)
            for i in range(0, len(body), 65536):
                c.send(view[i:i + 65536])
        except (BrokenPipeError, ConnectionResetError):
            pass
        r = c.getresponse()
        return H.Resp(r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
    finally:
        c.close()


def test_body_over_4mib_is_413(http, session):
    msg = json.dumps({"jsonrpc": "2.0", "id": 9, "method": "ping"}).encode()
    body = msg + b" " * (MAX_BODY + 1 - len(msg))
    assert len(body) == MAX_BODY + 1
    r = _post_raw_body(http, body, session)
    assert r.status == 413, r
    # the daemon is still fine
    assert session.rpc("ping")["result"] == {}


def test_body_of_exactly_4mib_is_accepted(http, session):
    msg = json.dumps({"jsonrpc": "2.0", "id": 10, "method": "ping"}).encode()
    body = msg + b" " * (MAX_BODY - len(msg))
    assert len(body) == MAX_BODY
    r = _post_raw_body(http, body, session)
    assert r.status == 200, r
    assert r.messages() == [{"jsonrpc": "2.0", "id": 10, "result": {}}], r


# --------------------------------------------------------- JSON-RPC rules ---

def test_invalid_json_is_parse_error(session):
    r = session.post('{"jsonrpc": "2.0", "id": 1, "method": "ping"')
    assert r.status in (200, 400), r
    (msg,) = r.messages()
    assert msg["jsonrpc"] == "2.0" and msg["id"] is None, msg
    assert msg["error"]["code"] == -32700, msg
    # the session still works
    assert session.rpc("ping")["result"] == {}


@pytest.mark.parametrize("bad", [b"harb\xe9r", b"too\xc0\x93t", b"x\xed\xa0\x80", b"x\xf4\x90\x80\x80", b"cut\xe2\x82"])
@pytest.mark.parametrize("where", ["argument", "id"])
def test_body_that_is_not_utf8_is_parse_error(session, bad, where):
    """JSON between systems is UTF-8 (RFC 8259): a string with other bytes
    (Latin-1, an overlong form, a surrogate, past U+10FFFF, cut short) is a
    parse error, never passed on to a tool nor echoed back as an id."""
    body = b'{"jsonrpc": "2.0", "id": ' + (b'"' + bad + b'"' if where == "id" else b"5") + \
           b', "method": "tools/call", "params": {"name": "homelab_get_vm", "arguments": {"name": "' + \
           (bad if where == "argument" else b"harbor") + b'"}}}'
    r = session.post(body)
    assert r.status in (200, 400), r
    (msg,) = r.messages()
    assert msg["error"]["code"] == -32700 and msg["id"] is None, msg
    assert session.rpc("ping")["result"] == {}


def test_messages_quoting_input_stay_utf8(session):
    """A message that quotes the input and is cut to length, or quotes a header
    in another encoding, is still valid UTF-8 (the client's JSON parser would
    fail otherwise)."""
    method = "x" + "\u00e9" * 150  # the 200-byte cut falls inside an e-acute
    r = session.post({"jsonrpc": "2.0", "id": 6, "method": method})
    text = r.body.decode("utf-8")  # strict: raises on a broken sequence
    (msg,) = r.messages()
    assert msg["error"]["code"] == -32601, msg
    assert msg["error"]["message"] == "Method not found: x" + "\u00e9" * 99 + "?", text
    r = session.post({"jsonrpc": "2.0", "id": 7, "method": "ping"}, version="2025-\u00e9")  # sent as Latin-1
    assert r.status == 400, r
    (msg,) = r.messages()
    assert msg["error"]["message"] == "Bad Request: unsupported MCP-Protocol-Version 2025-?", msg


def test_invalid_json_before_initialize_is_parse_error(http):
    r = http.post_mcp("not json at all", version=None)
    assert r.status in (200, 400), r
    (msg,) = r.messages()
    assert msg["error"]["code"] == -32700 and msg["id"] is None, msg


def test_not_a_request_object_is_invalid_request(session):
    r = session.post({"jsonrpc": "2.0", "id": 11})
    assert r.status in (200, 400), r
    (msg,) = r.messages()
    assert msg["error"]["code"] == -32600 and msg["id"] == 11, msg
    r = session.post('"just a string"')
    assert r.status in (200, 400), r
    (msg,) = r.messages()
    assert msg["error"]["code"] == -32600 and msg["id"] is None, msg


@pytest.mark.parametrize("body", ["42", "true", "null", '"x"', "[1]"])
def test_valid_json_that_is_not_a_message_is_invalid_request(session, body):
    # valid JSON, so not a Parse error (-32700): an Invalid Request (-32600)
    r = session.post(body)
    assert r.status in (200, 400), r
    (msg,) = r.messages() if not r.body.startswith(b"[") else r.json()
    assert msg["id"] is None and msg["error"]["code"] == -32600, (body, msg)


def test_wrong_jsonrpc_version_and_params(session):
    r = session.post({"jsonrpc": "1.0", "id": 3, "method": "ping"})
    (msg,) = r.messages()
    assert msg["id"] == 3 and msg["error"]["code"] == -32600, msg
    r = session.post({"jsonrpc": "2.0", "id": 4, "method": "tools/list", "params": []})
    (msg,) = r.messages()
    assert msg["id"] == 4 and msg["error"]["code"] == -32602, msg


def test_other_http_methods_are_405(session):
    r = session.http.request("PUT", "/mcp", headers={"Mcp-Session-Id": session.sid})
    assert r.status == 405, r
    assert r.header("allow") == "GET, POST, DELETE", r


def test_get_stream_wants_event_stream(session):
    r = session.http.request("GET", "/mcp", headers={"Accept": "application/json", "Mcp-Session-Id": session.sid})
    assert r.status == 406, r


@pytest.mark.parametrize("host,status", [("127.0.0.1:{port}", 200), ("localhost:{port}", 200),
                                         ("[::1]:{port}", 200), ("127.0.0.2:{port}", 200),
                                         ("evil.example", 403), ("evil.example:{port}", 403),
                                         # a rebinding name that merely starts like a loopback address
                                         ("127.attacker.example:{port}", 403), ("127.0.0.1.nip.example", 403)])
def test_host_header(daemon, http, host, status):
    r = http.post_mcp(H.init_body(), version=None, extra={"Host": host.format(port=daemon.port)})
    assert r.status == status, r
    if status == 200:
        http.request("DELETE", "/mcp", headers={"Mcp-Session-Id": r.header("mcp-session-id")})


def test_unknown_method_is_32601(session):
    resp = session.rpc("no/such/method", {})
    assert resp["error"]["code"] == -32601, resp
    assert "result" not in resp, resp


def test_ping_is_empty_object(session):
    rid = "ping-string-id"
    r = session.post({"jsonrpc": "2.0", "id": rid, "method": "ping"})
    assert r.status == 200
    assert r.messages() == [{"jsonrpc": "2.0", "id": rid, "result": {}}]


# ---------------------------------------------------------------- tools ---

ANNOTATION_WORDS = {"readOnlyHint": "read-only", "destructiveHint": "destructive",
                    "idempotentHint": "idempotent", "openWorldHint": "open-world"}


def test_tools_list_matches_library_table(session, library_tools):
    resp = session.rpc("tools/list", {})
    tools = resp["result"]["tools"]
    assert [t["name"] for t in tools] == library_tools["__order__"]
    assert "nextCursor" not in resp["result"] or resp["result"]["nextCursor"] in (None, "")
    for t in tools:
        lib = library_tools[t["name"]]
        assert NAME_RE.match(t["name"]), t["name"]
        assert t["title"] == lib["title"], t
        assert isinstance(t["description"], str) and t["description"].strip(), t
        assert " ".join(t["description"].split()) in " ".join(lib["help"].split()), (t["description"], lib["help"])
        assert t["inputSchema"] == lib["input"], t["name"]
        assert t["outputSchema"] == lib["output"], t["name"]
        assert t["inputSchema"]["type"] == "object" and t["outputSchema"]["type"] == "object"
        ann = t["annotations"]
        assert ann["title"] == lib["title"], t
        words = set(lib["annotations"].split(","))
        for hint, word in ANNOTATION_WORDS.items():
            assert ann[hint] is (word in words), (t["name"], hint, ann, words)


def test_call_list_vms_equals_cli(session, shared_db):
    got = H.tool_ok(session.call("homelab_list_vms"))
    assert got == H.cli_json(shared_db, "tools", "call", "homelab_list_vms")
    assert got["count"] == 3
    assert [v["name"] for v in got["vms"]] == ["whisper", "harbor", "sandbox"]


def test_call_list_vms_with_filter(session, shared_db):
    got = H.tool_ok(session.call("homelab_list_vms", {"status": "stopped"}))
    assert got == H.cli_json(shared_db, "tools", "call", "homelab_list_vms", "status=stopped")
    assert [v["name"] for v in got["vms"]] == ["sandbox"]


def test_call_get_vm_equals_cli(session, shared_db):
    got = H.tool_ok(session.call("homelab_get_vm", {"name": "whisper"}))
    assert got == H.cli_json(shared_db, "tools", "call", "homelab_get_vm", "name=whisper")
    assert got["vm_id"] == 101 and got["ip"] == "127.0.1.201"
    got = H.tool_ok(session.call("homelab_get_vm", {"vm_id": 102}))
    assert got["name"] == "harbor"


def test_call_lookup_ip(session, shared_db):
    got = H.tool_ok(session.call("homelab_lookup_ip", {"ip": "127.0.1.201"}))
    assert got == H.cli_json(shared_db, "tools", "call", "homelab_lookup_ip", "ip=127.0.1.201")


def test_call_not_found_is_tool_error(session, shared_db):
    text = H.tool_error(session.call("homelab_get_vm", {"name": "nosuch"}))
    assert text == H.cli_error(shared_db, "tools", "call", "homelab_get_vm", "name=nosuch")
    assert text == "vm 'nosuch' not found"


def test_call_bad_argument_is_tool_error(session, shared_db):
    text = H.tool_error(session.call("homelab_get_vm", {"vm_id": 0}))
    assert text == H.cli_error(shared_db, "tools", "call", "homelab_get_vm", "vm_id=0")
    assert text == "vm_id: must be at least 1"


def test_call_wrong_type_and_unknown_argument_are_tool_errors(session, shared_db):
    text = H.tool_error(session.call("homelab_get_vm", {"vm_id": "abc"}))
    assert "vm_id" in text, text
    text = H.tool_error(session.call("homelab_get_vm", {"colour": "red"}))
    assert text == H.cli_error(shared_db, "tools", "call", "homelab_get_vm", "--args", '{"colour":"red"}')
    assert "colour" in text, text


def test_call_unknown_tool_is_32602(session):
    resp = session.rpc("tools/call", {"name": "no_such_tool", "arguments": {}})
    assert resp["error"]["code"] == -32602, resp
    assert "result" not in resp


def test_call_without_name_is_32602(session):
    resp = session.rpc("tools/call", {"arguments": {}})
    assert resp["error"]["code"] == -32602, resp


def test_call_without_arguments_means_empty(session, shared_db):
    resp = session.rpc("tools/call", {"name": "homelab_list_hosts"})
    got = H.tool_ok(resp["result"])
    assert got == H.cli_json(shared_db, "tools", "call", "homelab_list_hosts")


# ---------------------------------------------------------- GET stream ---

def _open_stream(http, sid, accept="text/event-stream", timeout=KEEPALIVE_S * 5 + 5):
    c = http.conn(timeout=timeout)
    h = {"Accept": accept}
    if sid is not None:
        h["Mcp-Session-Id"] = sid
    c.request("GET", "/mcp", headers=h)
    return c, c.getresponse()


def test_get_stream_sends_keepalives_and_stays_open(http, session):
    c, r = _open_stream(http, session.sid)
    try:
        assert r.status == 200
        assert r.getheader("Content-Type").split(";")[0].strip() == "text/event-stream"
        t0 = time.monotonic()
        seen = 0
        while seen < 3:
            line = r.readline()
            assert line != b"", f"the stream ended after {seen} keep-alives"
            if line.startswith(b": keep-alive"):
                seen += 1
        elapsed = time.monotonic() - t0
        # three comments at one per second: at least ~2 s, and not much more than 3 s
        assert 1.5 <= elapsed <= KEEPALIVE_S * 3 + 3, elapsed
        # the session still answers POSTs while its stream is open
        assert session.rpc("ping")["result"] == {}
    finally:
        c.close()


def test_get_stream_without_session_is_400(http):
    c, r = _open_stream(http, None)
    try:
        assert r.status == 400
    finally:
        c.close()


def test_get_stream_unknown_session_is_404(http):
    c, r = _open_stream(http, "no-such-session-0123456789")
    try:
        assert r.status == 404
    finally:
        c.close()


def test_delete_closes_open_stream(http):
    s = H.Session(http)
    c, r = _open_stream(http, s.sid, timeout=KEEPALIVE_S * 3 + 1)
    try:
        assert r.status == 200
        assert s.delete().status == 200
        deadline = time.monotonic() + KEEPALIVE_S * 3 + 1
        ended = False
        while time.monotonic() < deadline:
            try:
                line = r.readline()
            except (socket.timeout, TimeoutError):
                break
            if line == b"":
                ended = True
                break
        assert ended, "the GET stream of a deleted session stayed open"
    finally:
        c.close()


# ---------------------------------------------------------------- Origin ---

@pytest.mark.parametrize("origin", ["", "127.0.0.1", "localhost", ALLOWED_ORIGIN])
def test_allowed_origins(daemon, http, origin):
    extra = {}
    if origin in ("127.0.0.1", "localhost"):
        extra["Origin"] = f"http://{origin}:{daemon.port}"
    elif origin:
        extra["Origin"] = origin
    r = http.post_mcp(H.init_body(), version=None, extra=extra)
    assert r.status == 200, r
    sid = r.header("mcp-session-id")
    r = http.post_mcp({"jsonrpc": "2.0", "id": 2, "method": "ping"}, session=sid, extra=extra)
    assert r.status == 200, r
    http.request("DELETE", "/mcp", headers={"Mcp-Session-Id": sid, **extra})


@pytest.mark.parametrize("origin", ["http://evil.example", "http://127.0.0.1:1", "null",
                                    "http://localhost.evil.example:{port}", "https://127.0.0.1:{port}",
                                    ALLOWED_ORIGIN + ".evil"])
def test_foreign_origins_are_403(daemon, http, session, origin):
    extra = {"Origin": origin.format(port=daemon.port)}
    r = http.post_mcp(H.init_body(), version=None, extra=extra)
    assert r.status == 403, r
    assert r.header("mcp-session-id") is None, r
    r = session.post({"jsonrpc": "2.0", "id": 2, "method": "ping"}, extra=extra)
    assert r.status == 403, r


# ----------------------------------------------------------- concurrency ---

def test_eight_threads_on_one_session(session, shared_db):
    expected_list = H.cli_json(shared_db, "tools", "call", "homelab_list_vms")
    expected_vm = {n: H.cli_json(shared_db, "tools", "call", "homelab_get_vm", f"name={n}")
                   for n in ("whisper", "harbor", "sandbox")}
    errors = []

    def worker(i):
        try:
            for j in range(10):
                name = ("whisper", "harbor", "sandbox")[(i + j) % 3]
                if j % 2:
                    got = H.tool_ok(session.call("homelab_get_vm", {"name": name}))
                    assert got == expected_vm[name], (name, got)
                else:
                    got = H.tool_ok(session.call("homelab_list_vms"))
                    assert got == expected_list, got
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(repr(e))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads), "a worker hung"
    assert errors == []


def test_two_sessions_at_once(http, shared_db):
    a, b = H.Session(http), H.Session(http, version="2025-03-26")
    assert a.sid != b.sid
    assert b.init["result"]["protocolVersion"] == "2025-03-26"
    results = {}

    def run(s, key):
        results[key] = [H.tool_ok(s.call("homelab_get_vm", {"name": "whisper"}))["vm_id"] for _ in range(10)]

    ta, tb = threading.Thread(target=run, args=(a, "a")), threading.Thread(target=run, args=(b, "b"))
    ta.start(), tb.start()
    ta.join(60), tb.join(60)
    assert results == {"a": [101] * 10, "b": [101] * 10}
    # a session's id does not open the other's; deleting one leaves the other
    assert a.delete().status == 200
    assert b.rpc("ping")["result"] == {}
    assert a.post({"jsonrpc": "2.0", "id": 1, "method": "ping"}).status == 404
    assert b.delete().status == 200


# ------------------------------------------------------------ the process ---

def test_startup_banner_on_stderr_and_nothing_on_stdout(daemon):
    assert "homelab-mcpd" in daemon.stderr(), daemon.stderr()
    assert str(daemon.port) in daemon.stderr(), daemon.stderr()


def test_sigint_stops_cleanly(start_daemon, demo_db):
    d = start_daemon(db=demo_db)
    s = H.Session(d.http())
    assert H.tool_ok(s.call("homelab_list_vms"))["count"] == 3
    d.stop_and_check(signal.SIGINT)


def test_sigterm_with_open_stream_stops_cleanly(start_daemon, demo_db):
    d = start_daemon(db=demo_db, keepalive_s=1)
    s = H.Session(d.http())
    c, r = _open_stream(d.http(), s.sid)
    try:
        assert r.status == 200
        t0 = time.monotonic()
        d.stop_and_check(signal.SIGTERM)
        assert time.monotonic() - t0 < 10
    finally:
        c.close()


def test_streams_leave_workers_for_requests(start_daemon, demo_db):
    """Each open stream holds a worker thread: with --threads 6, 4 streams may
    be open (2 workers stay for requests); the next GET or /sse is 503 with
    Retry-After, requests still answer, and a closed stream frees its slot."""
    d = start_daemon(db=demo_db, keepalive_s=1, args=["--threads", "6"])
    http = d.http()
    s = H.Session(http)
    streams = []
    try:
        for _ in range(4):
            c, r = _open_stream(http, s.sid)
            assert r.status == 200
            assert r.readline().startswith(b": stream open")
            streams.append(c)
        body = http.request("GET", "/metrics").body
        assert _metric(body, "homelab_mcpd_streams") == 4
        assert _metric(body, "homelab_mcpd_streams_max") == 4
        c, r = _open_stream(http, s.sid)
        assert r.status == 503
        assert r.getheader("Retry-After") == "30"
        assert "too many open event streams (4)" in r.read().decode()
        c.close()
        r = http.request("GET", "/sse", headers={"Accept": "text/event-stream"})
        assert r.status == 503, r
        # requests are still served while every stream slot is taken
        for _ in range(3):
            assert s.rpc("ping")["result"] == {}
        assert H.tool_ok(s.call("homelab_list_hosts"))["count"] == 1
        streams.pop().close()
        deadline = time.monotonic() + 10
        while _metric(http.request("GET", "/metrics").body, "homelab_mcpd_streams") > 3:
            assert time.monotonic() < deadline, "a closed stream kept its slot"
            time.sleep(0.1)
        c, r = _open_stream(http, s.sid)
        assert r.status == 200
        streams.append(c)
    finally:
        for c in streams:
            c.close()
    d.stop_and_check(signal.SIGTERM)


def test_new_sessions_while_streams_tick(start_daemon, demo_db):
    """Streams stamp their session's last use at every keep-alive while new
    sessions scan all sessions for idle ones (a data race TSan found in CI);
    under TSan the daemon's exit status and stderr catch a report."""
    d = start_daemon(db=demo_db, keepalive_s=1)
    streams = []
    try:
        for _ in range(3):
            s = H.Session(d.http())
            c, r = _open_stream(d.http(), s.sid)
            assert r.status == 200
            streams.append((c, r))
        deadline = time.monotonic() + 3.5
        made = 0
        while time.monotonic() < deadline:
            for c, r in streams:
                assert r.readline() != b"", "a stream ended early"
            assert H.Session(d.http()).rpc("ping")["result"] == {}
            made += 1
        assert made >= 2
    finally:
        for c, _ in streams:
            c.close()
    d.stop_and_check(signal.SIGTERM)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run the daemon as another user")
def test_daemon_is_not_dumpable(demo_db):
    """It holds the vault key and returns passwords: no core dump, no ptrace by
    its own user. The kernel shows this by giving /proc/PID to root."""
    progs = unprivileged.programs()  # the build tree may be out of nobody's reach
    work = pathlib.Path(tempfile.mkdtemp(prefix="hl-nobody-"))  # pytest's tmp_path is root's alone
    shutil.copy(demo_db, work / "demo.db")
    for p in (work, work / "demo.db"):
        os.chown(p, unprivileged.NOBODY, unprivileged.NOBODY)
    try:
        d = H.Daemon(work, db=work / "demo.db", prefix=unprivileged.SETPRIV, binary=progs.mcpd,
                     env={"LD_LIBRARY_PATH": progs.dir})
    except BaseException:
        shutil.rmtree(work)
        raise
    try:
        with open(f"/proc/{d.proc.pid}/status") as f:
            uid = next(line for line in f if line.startswith("Uid:"))
        assert uid.split()[1:] == ["65534"] * 4, uid
        assert os.stat(f"/proc/{d.proc.pid}/environ").st_uid == 0
        assert H.tool_ok(H.Session(d.http()).call("homelab_list_vms"))["count"] == 3
    finally:
        try:
            d.stop_and_check()
        finally:
            shutil.rmtree(work)


def test_db_from_environment(start_daemon, demo_db):
    d = start_daemon(db=None, env={"HOMELAB_DB_PATH": demo_db})
    s = H.Session(d.http())
    assert H.tool_ok(s.call("homelab_get_vm", {"name": "sandbox"}))["vm_id"] == 103


def _free_port():
    with socket.socket() as so:
        so.bind((H.HOST, 0))
        return so.getsockname()[1]


def test_mcp_port_environment(start_daemon, demo_db):
    port = _free_port()
    d = start_daemon(db=demo_db, env={"MCP_PORT": str(port)}, port=None)
    assert d.port == port
    assert d.http().request("GET", "/healthz").status == 200


def test_port_option_beats_mcp_port(start_daemon, demo_db):
    d = start_daemon(db=demo_db, env={"MCP_PORT": "1"})
    assert d.port not in (0, 1)
    assert d.http().request("GET", "/healthz").status == 200


@pytest.mark.parametrize("header,value", [
    ("X-Forwarded-For", "198.51.100.7"),
    ("Forwarded", "for=198.51.100.7;proto=https"),
    ("X-Real-IP", "198.51.100.7"),
])
def test_proxied_request_without_tokens_is_refused(start_daemon, tmp_path, header, value):
    """Without tokens the daemon trusts local clients; a reverse proxy on this
    machine would make every client local, so what it forwards is refused
    (and audited), while the same request straight from loopback works."""
    db = H.make_demo_db(tmp_path / "proxy.db")
    d = start_daemon(db=db)
    http = d.http()
    r = http.post_mcp(H.init_body(), version=None, extra={header: value})
    assert r.status == 403, r
    assert f"came through a proxy ({header} header)" in r.body.decode(), r
    assert "homelab tokens create" in r.body.decode(), r
    r = http.request("GET", "/sse", headers={"Accept": "text/event-stream", header: value})
    assert r.status == 403, r
    assert http.post_mcp(H.init_body(), version=None).status == 200
    # the first refusal is written at once; the second, within the minute, is counted
    rows = H.cli_json(db, "audit", "list", "--action", "auth_refused")["entries"]
    assert len(rows) == 1, rows
    assert rows[0]["client"] == "127.0.0.1" and header in rows[0]["details"], rows
    assert _metric(http.request("GET", "/metrics").body, "homelab_mcpd_auth_refused_total") == 2
    # and written at shutdown: nothing is lost
    d.stop_and_check()
    rows = H.cli_json(db, "audit", "list", "--action", "auth_refused")["entries"]
    assert len(rows) == 2, rows
    assert any("1 more refusals from this address" in row["details"] and row["client"] == "127.0.0.1"
               for row in rows), rows


def test_non_loopback_without_tokens_is_refused(demo_db, tmp_path):
    # 192.0.2.1 (TEST-NET-1) is never contacted: the daemon must refuse before binding.
    import subprocess
    pf = tmp_path / "port"
    proc = subprocess.run([H.mcpd_bin(), "--db", demo_db, "--host", "192.0.2.1", "--port", "0",
                           "--port-file", str(pf)], capture_output=True, text=True, timeout=15,
                          stdin=subprocess.DEVNULL, env=H.clean_env())
    assert proc.returncode != 0, proc
    assert not pf.exists()
    assert re.search(r"token|loopback|auth", proc.stderr, re.I), proc.stderr
    assert H.sanitizer_report(proc.stderr) is None, proc.stderr
    proc = subprocess.run([H.mcpd_bin(), "--db", demo_db, "--port", "0", "--port-file", str(pf)],
                          capture_output=True, text=True, timeout=15, stdin=subprocess.DEVNULL,
                          env=H.clean_env({"MCP_HOST": "192.0.2.1"}))
    assert proc.returncode != 0, proc
    assert not pf.exists()
    assert re.search(r"token|loopback|auth", proc.stderr, re.I), proc.stderr


def test_bad_option_is_usage_error(tmp_path):
    import subprocess
    proc = subprocess.run([H.mcpd_bin(), "--no-such-option"], capture_output=True, text=True, timeout=15,
                          stdin=subprocess.DEVNULL, env=H.clean_env())
    assert proc.returncode != 0, proc
    assert proc.stdout == "", proc
    assert proc.stderr.strip(), proc


# ------------------------------------------------------------------ auth ---

@pytest.fixture(scope="module")
def auth_daemon(tmp_path_factory):
    """One daemon on a database with three tokens (shared by the auth tests of this module)."""
    work = tmp_path_factory.mktemp("auth")
    db = H.make_demo_db(work / "auth.db")
    tokens = {
        "reader": H.create_token(db, "reader", "inventory:read"),
        "auditor": H.create_token(db, "auditor", "audit:read"),
        "all": H.create_token(db, "admin", "*"),
    }
    d = H.Daemon(work / "mcpd", db=db)
    d.tokens = tokens
    d.db = db
    yield d
    d.stop_and_check()


def _bearer(tok):
    return {"Authorization": f"Bearer {tok}"}


def test_proxied_request_with_a_token_is_served(auth_daemon):
    s = H.Session(auth_daemon.http(), extra={**_bearer(auth_daemon.tokens["reader"]),
                                             "X-Forwarded-For": "198.51.100.7"})
    assert H.tool_ok(s.call("homelab_list_hosts"))["count"] == 1


def test_auth_required_when_tokens_exist(auth_daemon):
    http = auth_daemon.http()
    r = http.post_mcp(H.init_body(), version=None)
    assert r.status == 401, r
    assert (r.header("www-authenticate") or "").startswith("Bearer"), r
    r = http.post_mcp(H.init_body(), version=None, extra={"Authorization": "Bearer hlt_aaaaaaaa_" + "A" * 43})
    assert r.status == 401, r
    assert (r.header("www-authenticate") or "").startswith("Bearer"), r
    r = http.post_mcp(H.init_body(), version=None, extra={"Authorization": "Basic dXNlcjpwYXNz"})
    assert r.status == 401, r
    # a token with one character changed
    tok = auth_daemon.tokens["reader"]
    bad = tok[:-1] + ("A" if tok[-1] != "A" else "B")
    r = http.post_mcp(H.init_body(), version=None, extra=_bearer(bad))
    assert r.status == 401, r
    for path in ("/sse", "/messages?session_id=x"):
        method = "GET" if path == "/sse" else "POST"
        r = http.request(method, path, body=None if method == "GET" else "{}",
                         headers={"Accept": "text/event-stream", "Content-Type": "application/json"})
        assert r.status == 401, (path, r)
        assert (r.header("www-authenticate") or "").startswith("Bearer"), r
    # health and metrics stay open
    assert http.request("GET", "/healthz").status == 200


def test_auth_token_with_scope_calls_tool(auth_daemon):
    s = H.Session(auth_daemon.http(), extra=_bearer(auth_daemon.tokens["reader"]))
    got = H.tool_ok(s.call("homelab_list_vms"))
    assert got == H.cli_json(auth_daemon.db, "tools", "call", "homelab_list_vms")
    # a request of that session without the token is refused
    r = s.http.post_mcp({"jsonrpc": "2.0", "id": 1, "method": "ping"}, session=s.sid)
    assert r.status == 401, r


def test_auth_token_without_scope_is_refused(auth_daemon):
    s = H.Session(auth_daemon.http(), extra=_bearer(auth_daemon.tokens["auditor"]))
    rid = s.next_id()
    r = s.post({"jsonrpc": "2.0", "id": rid, "method": "tools/call",
                "params": {"name": "homelab_list_vms", "arguments": {}}})
    # the daemon refuses with HTTP 403 and a JSON-RPC error naming the missing scope
    assert r.status == 403, r
    assert r.json() == {"jsonrpc": "2.0", "id": rid, "error": {
        "code": -32003, "message": "token 'auditor' lacks the scope inventory:read that tool homelab_list_vms needs"}}
    # the auditor's own scope works
    got = H.tool_ok(s.call("homelab_audit_verify"))
    assert got["intact"] is True and got["problem"] is None, got


def test_auth_tools_list_of_a_scoped_token(auth_daemon, library_tools):
    s = H.Session(auth_daemon.http(), extra=_bearer(auth_daemon.tokens["reader"]))
    names = [t["name"] for t in s.rpc("tools/list", {})["result"]["tools"]]
    expected = [n for n in library_tools["__order__"] if library_tools[n]["scope"] == "inventory:read"]
    assert names == expected
    s = H.Session(auth_daemon.http(), extra=_bearer(auth_daemon.tokens["all"]))
    names = [t["name"] for t in s.rpc("tools/list", {})["result"]["tools"]]
    assert names == library_tools["__order__"]


def test_auth_session_of_one_token_not_usable_with_another(auth_daemon):
    s = H.Session(auth_daemon.http(), extra=_bearer(auth_daemon.tokens["reader"]))
    r = s.post({"jsonrpc": "2.0", "id": 1, "method": "ping"}, extra=_bearer(auth_daemon.tokens["auditor"]))
    assert r.status in (403, 404), r
