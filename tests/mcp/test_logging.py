"""Logging (issue 13): the logging capability, logging/setLevel per session
(default info), and notifications/message from the library's tools before
their answer, on every transport, filtered by the session's level. The
health check logs each answer: healthy at info, unhealthy or unreachable at
warning, a service without a URL at notice."""
import pytest

import mcp_helpers as H
from test_sse import SseClient, _init as sse_init
from test_stdio import StdioDaemon


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """The demo inventory (3 services on loopback ports where nothing listens)
    plus "self", which probes the daemon's own /healthz."""
    work = tmp_path_factory.mktemp("logging")
    db = H.make_demo_db(work / "logging.db")
    d = H.Daemon(work / "mcpd", db=db)
    H.cli(db, "services", "add", "self", "--url", f"http://{H.HOST}:{d.port}", "--health", "/healthz")
    d.db = db
    yield d
    d.stop_and_check()


CALL = {"jsonrpc": "2.0", "id": 9, "method": "tools/call",
        "params": {"name": "homelab_check_all_services", "arguments": {"timeout_s": 2}}}


def _logs(msgs):
    assert msgs[-1]["id"] == 9 and H.tool_ok(msgs[-1]["result"])["count"] == 4, msgs[-1]
    logs = [m["params"] for m in msgs[:-1]]
    assert all(m["method"] == "notifications/message" for m in msgs[:-1]), msgs
    return [(p["level"], p["logger"], p["data"].split(":")[0]) for p in logs], logs


def test_capability(lab):
    s = H.Session(lab.http())
    assert s.init["result"]["capabilities"]["logging"] == {}


def test_default_level_is_info(lab):
    s = H.Session(lab.http())
    got, raw = _logs(s.post(CALL).messages())
    assert got == [("warning", "health", "homelab-mcp"), ("warning", "health", "ollama"),
                   ("warning", "health", "open-webui"), ("info", "health", "self")], got
    assert "healthy (HTTP 200 in" in raw[3]["data"], raw


@pytest.mark.parametrize("level,count", [("debug", 4), ("info", 4), ("notice", 3), ("warning", 3), ("error", 0),
                                         ("emergency", 0)])
def test_set_level_filters(lab, level, count):
    s = H.Session(lab.http())
    assert s.rpc("logging/setLevel", {"level": level})["result"] == {}
    r = s.post(CALL)
    got, _ = _logs(r.messages())
    assert len(got) == count, got
    if count == 0:
        assert r.content_type == "application/json", r  # nothing to say before the answer: plain JSON


def test_level_is_per_session(lab):
    a, b = H.Session(lab.http()), H.Session(lab.http())
    a.rpc("logging/setLevel", {"level": "error"})
    assert len(_logs(a.post(CALL).messages())[0]) == 0
    assert len(_logs(b.post(CALL).messages())[0]) == 4


@pytest.mark.parametrize("params,message", [({}, "params.level (a string) is required"),
                                            ({"level": 3}, "params.level (a string) is required"),
                                            ({"level": "verbose"}, "unknown level 'verbose'")])
def test_bad_level(lab, params, message):
    s = H.Session(lab.http())
    e = s.rpc("logging/setLevel", params)["error"]
    assert e["code"] == -32602 and message in e["message"], e


def test_json_only_client_gets_no_logs(lab):
    s = H.Session(lab.http())
    r = s.post(CALL, accept="application/json")
    assert r.content_type == "application/json" and H.tool_ok(r.json()["result"])["count"] == 4, r


def test_legacy_sse_logs_on_the_stream(lab):
    c = SseClient(lab.http())
    try:
        c.endpoint()
        sse_init(c)
        assert c.request(3, "logging/setLevel", {"level": "warning"})["result"] == {}
        assert c.post(CALL).status == 202
        msgs = []
        while "id" not in (m := c.message()):
            msgs.append(m)
        got, _ = _logs(msgs + [m])
        assert [g[0] for g in got] == ["warning"] * 3, got
    finally:
        c.close()


def test_stdio_logs_as_lines(lab, tmp_path):
    d = StdioDaemon(lab.db, tmp_path)
    try:
        d.request(1, "initialize", {"protocolVersion": H.LATEST_VERSION, "capabilities": {},
                                    "clientInfo": {"name": "t", "version": "0"}})
        d.send(CALL)
        msgs = []
        while "id" not in (m := d.recv()):
            msgs.append(m)
        got, _ = _logs(msgs + [m])
        assert len(got) == 4 and got[-1] == ("info", "health", "self"), got
        assert d.request(2, "logging/setLevel", {"level": "critical"})["result"] == {}
        d.send(CALL)
        assert "id" in d.recv()  # the answer alone
    finally:
        rc = d.close()
    assert rc == 0 and H.sanitizer_report(d.stderr()) is None, d.stderr()
