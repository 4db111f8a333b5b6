"""Progress notifications: a tools/call with params._meta.progressToken to a tool
that reports progress (homelab_check_all_services, before each service) gets
notifications/progress messages before its answer, on every transport: as an event stream on
Streamable HTTP, on the session's stream for legacy SSE, as lines on stdio.

The services probed are HTTP servers this test starts on 127.0.0.1 (and the
daemon's own /healthz); the demo's services point at loopback ports where
nothing listens."""
import json
import socket
import time

import pytest

import mcp_helpers as H
from test_sse import SseClient, _init as sse_init
from test_stdio import StdioDaemon


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A daemon on the demo inventory plus a service "self" that probes the
    daemon's own /healthz: 4 services, 1 healthy, 3 unreachable."""
    work = tmp_path_factory.mktemp("progress")
    db = H.make_demo_db(work / "progress.db")
    d = H.Daemon(work / "mcpd", db=db)
    H.cli(db, "services", "add", "self", "--url", f"http://{H.HOST}:{d.port}", "--health", "/healthz")
    d.db = db
    yield d
    d.stop_and_check()


def _call(token=None, args=None, name="homelab_check_all_services", rid=9):
    params = {"name": name, "arguments": args if args is not None else {"timeout_s": 2}}
    if token is not None:
        params["_meta"] = {"progressToken": token}
    return {"jsonrpc": "2.0", "id": rid, "method": "tools/call", "params": params}


def _check_progress(notes, token, total):
    """The progress notifications among notes (the tool's log messages,
    notifications/message, come too: see test_logging.py)."""
    assert all(n["method"] in ("notifications/progress", "notifications/message") for n in notes), notes
    notes = [n for n in notes if n["method"] == "notifications/progress"]
    assert len(notes) == total, notes
    assert [n["params"]["progressToken"] for n in notes] == [token] * total
    assert [n["params"]["progress"] for n in notes] == list(range(total))  # services done so far
    assert all(n["params"]["total"] == total for n in notes), notes
    return [n["params"]["message"] for n in notes]


EXPECTED_MESSAGES = ["checking homelab-mcp", "checking ollama", "checking open-webui", "checking self"]


def test_http_progress_then_answer_on_one_stream(lab):
    s = H.Session(lab.http())
    r = s.post(_call(token="check-1"))
    assert r.status == 200, r
    assert r.content_type == "text/event-stream", r
    msgs = r.messages()
    assert _check_progress(msgs[:-1], "check-1", 4) == EXPECTED_MESSAGES
    answer = msgs[-1]
    assert answer["id"] == 9, answer
    got = H.tool_ok(answer["result"])
    assert (got["count"], got["healthy"], got["unreachable"]) == (4, 1, 3), got


def test_http_integer_token(lab):
    s = H.Session(lab.http())
    msgs = s.post(_call(token=77)).messages()
    _check_progress(msgs[:-1], 77, 4)


def _no_progress(r):
    """The answer of r, which carries no progress (log messages may come first)."""
    msgs = r.messages()
    assert all(m.get("method") == "notifications/message" for m in msgs[:-1]), msgs
    return msgs[-1]


def test_http_without_token_or_stream_is_plain_json(lab):
    s = H.Session(lab.http())
    r = s.post(_call(), accept=H.ACCEPT_BOTH)
    assert r.status == 200 and H.tool_ok(_no_progress(r)["result"])["count"] == 4
    r = s.post(_call(token="t"), accept="application/json")
    assert r.status == 200 and r.content_type == "application/json", r
    assert H.tool_ok(r.json()["result"])["count"] == 4


def test_http_token_on_a_tool_without_progress(lab):
    """Only tools that report progress stream; others answer as usual."""
    s = H.Session(lab.http())
    r = s.post(_call(token="t", name="homelab_list_vms", args={}))
    assert r.status == 200 and r.content_type == "application/json", r
    assert H.tool_ok(r.json()["result"])["count"] == 3


@pytest.mark.parametrize("bad", [{"progressToken": 1.5}, {"progressToken": None}, {"progressToken": [1]}, "x"])
def test_http_bad_progress_token_means_no_progress(lab, bad):
    s = H.Session(lab.http())
    body = _call()
    body["params"]["_meta"] = bad
    r = s.post(body)
    assert r.status == 200, r
    assert H.tool_ok(_no_progress(r)["result"])["count"] == 4


def test_http_client_gone_stops_the_tool(start_daemon, tmp_path):
    """Progress is how the daemon notices a client that left: a report fails
    to write and the tool stops instead of probing the rest."""
    db = H.make_demo_db(tmp_path / "slow.db")
    slow = H.SlowServer(0.4)
    try:
        # more services than are probed at once (16)
        for i in range(40):
            H.cli(db, "services", "add", f"slow{i:02d}", "--url", f"http://{H.HOST}:{slow.port}")
        d = start_daemon(db=db)
        s = H.Session(d.http())
        body = json.dumps(_call(token="gone", args={})).encode()
        so = socket.create_connection((H.HOST, d.port), timeout=20)
        so.sendall(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                   b"Accept: application/json, text/event-stream\r\nMcp-Session-Id: " + s.sid.encode() +
                   b"\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
        f = so.makefile("rb")
        assert f.readline().startswith(b"HTTP/1.1 200"), "no stream"
        while not f.readline().startswith(b"data:"):
            pass
        f.close()
        so.close()  # gone after the first progress report
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            before = slow.requests
            time.sleep(1.0)
            if slow.requests == before:
                break
        assert slow.requests <= 32, "the tool went on probing after the client left"
        # the daemon is fine and serves the next call
        assert H.tool_ok(s.call("homelab_list_hosts"))["count"] == 1
    finally:
        slow.stop()


def test_legacy_sse_progress_on_the_stream(lab):
    c = SseClient(lab.http())
    try:
        c.endpoint()
        sse_init(c)
        r = c.post(_call(token="legacy"))
        assert r.status == 202, r
        notes = []
        while "id" not in (m := c.message()):
            notes.append(m)
        assert _check_progress(notes, "legacy", 4) == EXPECTED_MESSAGES
        answer = m
        assert answer["id"] == 9 and H.tool_ok(answer["result"])["healthy"] == 1, answer
    finally:
        c.close()


def test_stdio_progress_lines_before_the_answer(lab, tmp_path):
    d = StdioDaemon(lab.db, tmp_path)
    try:
        d.request(1, "initialize", {"protocolVersion": H.LATEST_VERSION, "capabilities": {},
                                    "clientInfo": {"name": "t", "version": "0"}})
        d.send(_call(token="stdio"))
        notes = []
        while "id" not in (m := d.recv()):
            notes.append(m)
        assert _check_progress(notes, "stdio", 4) == EXPECTED_MESSAGES
        answer = m
        assert answer["id"] == 9 and H.tool_ok(answer["result"])["count"] == 4, answer
    finally:
        rc = d.close()
    assert rc == 0 and H.sanitizer_report(d.stderr()) is None, d.stderr()
