"""homelab-mcpd --stdio: newline-delimited JSON-RPC on stdin/stdout."""
import json
import signal

import pytest

import mcp_helpers as H


StdioDaemon = H.StdioDaemon  # tests elsewhere import it from here


@pytest.fixture
def stdio(demo_db, tmp_path):
    d = StdioDaemon(demo_db, tmp_path)
    resp = d.request(0, "initialize", {"protocolVersion": H.LATEST_VERSION, "capabilities": {},
                                       "clientInfo": {"name": "homelab-tests", "version": "0"}})
    d.init = resp
    d.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
    yield d
    rc = d.close()
    err = d.stderr()
    assert rc == 0, (rc, err)
    assert H.sanitizer_report(err) is None, err
    for line in d.raw:  # nothing but JSON-RPC messages on stdout
        msg = json.loads(line)
        assert msg["jsonrpc"] == "2.0", line


def test_initialize(stdio):
    res = stdio.init["result"]
    assert stdio.init["jsonrpc"] == "2.0"
    assert res["protocolVersion"] == H.LATEST_VERSION
    assert res["serverInfo"]["name"] == "homelab-mcpd"
    assert "tools" in res["capabilities"]


@pytest.mark.parametrize("version", H.SUPPORTED_VERSIONS + ("2024-11-05", "1999-01-01"))
def test_initialize_versions(demo_db, tmp_path, version):
    d = StdioDaemon(demo_db, tmp_path)
    resp = d.request("init", "initialize", {"protocolVersion": version, "capabilities": {},
                                            "clientInfo": {"name": "t", "version": "0"}})
    if version in H.SUPPORTED_VERSIONS:
        assert resp["result"]["protocolVersion"] == version, resp
    else:  # not ours: the server answers with one it speaks
        assert resp["result"]["protocolVersion"] in H.SUPPORTED_VERSIONS + ("2024-11-05",), resp
    assert d.close() == 0
    assert H.sanitizer_report(d.stderr()) is None


def test_notification_gets_no_reply(stdio):
    stdio.send({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 99}})
    # the next line on stdout is the ping's answer, not a reply to the notification
    assert stdio.request(1, "ping") == {"jsonrpc": "2.0", "id": 1, "result": {}}


def test_ping(stdio):
    assert stdio.request("p", "ping") == {"jsonrpc": "2.0", "id": "p", "result": {}}


def test_tools_list_matches_library_table(stdio, library_tools):
    tools = stdio.request(2, "tools/list", {})["result"]["tools"]
    assert [t["name"] for t in tools] == library_tools["__order__"]
    for t in tools:
        assert t["inputSchema"] == library_tools[t["name"]]["input"]
        assert t["outputSchema"] == library_tools[t["name"]]["output"]
        assert t["title"] == library_tools[t["name"]]["title"]


def test_tools_call(stdio, demo_db):
    res = stdio.request(3, "tools/call", {"name": "homelab_list_vms", "arguments": {}})["result"]
    assert H.tool_ok(res) == H.cli_json(demo_db, "tools", "call", "homelab_list_vms")
    res = stdio.request(4, "tools/call", {"name": "homelab_get_vm", "arguments": {"name": "whisper"}})["result"]
    assert H.tool_ok(res) == H.cli_json(demo_db, "tools", "call", "homelab_get_vm", "name=whisper")


def test_tools_call_failure(stdio, demo_db):
    res = stdio.request(5, "tools/call", {"name": "homelab_get_vm", "arguments": {"name": "nosuch"}})["result"]
    assert H.tool_error(res) == H.cli_error(demo_db, "tools", "call", "homelab_get_vm", "name=nosuch")


def test_unknown_tool(stdio):
    resp = stdio.request(6, "tools/call", {"name": "no_such_tool", "arguments": {}})
    assert resp["error"]["code"] == -32602, resp


def test_unknown_method(stdio):
    resp = stdio.request(7, "resources/nonsense", {})
    assert resp["error"]["code"] == -32601, resp
    assert "result" not in resp


def test_invalid_json_lines(stdio):
    for bad in ('{"jsonrpc": "2.0", "id": 8, "method": "ping"\n', "not json\n", "{]\n"):
        stdio.send_raw(bad)
        resp = stdio.recv()
        assert resp["jsonrpc"] == "2.0" and resp["id"] is None, resp
        assert resp["error"]["code"] == -32700, resp
    # and it keeps going
    assert stdio.request(9, "ping")["result"] == {}


def test_invalid_request(stdio):
    stdio.send({"jsonrpc": "2.0", "id": 10})
    resp = stdio.recv()
    assert resp["id"] == 10 and resp["error"]["code"] == -32600, resp
    # valid JSON that is not a request object is an Invalid Request, not a Parse error
    for line in ('"x"', "[]", "[1]", "42", "true", "null"):
        stdio.send_raw(line + "\n")
        resp = stdio.recv()
        assert resp["id"] is None and resp["error"]["code"] == -32600, (line, resp)


def test_responses_get_no_reply(stdio):
    stdio.send({"jsonrpc": "2.0", "id": "srv-1", "result": {}})
    assert stdio.request(11, "ping") == {"jsonrpc": "2.0", "id": 11, "result": {}}


def test_many_requests_in_one_write(stdio):
    batch = "".join(json.dumps({"jsonrpc": "2.0", "id": 100 + i, "method": "ping"}) + "\n" for i in range(50))
    stdio.send_raw(batch)
    ids = sorted(stdio.recv()["id"] for _ in range(50))
    assert ids == list(range(100, 150))


def test_large_result_is_one_line(stdio, demo_db):
    # a long unknown name comes back in the error message, on one line
    name = "x" * 60
    res = stdio.request(12, "tools/call", {"name": "homelab_get_vm", "arguments": {"name": name}})["result"]
    assert H.tool_error(res) == f"vm '{name}' not found"


def test_sigterm_stops_cleanly(demo_db, tmp_path):
    d = StdioDaemon(demo_db, tmp_path)
    assert d.request(1, "ping")["result"] == {}
    d.proc.send_signal(signal.SIGTERM)
    rc = d.proc.wait(timeout=10)
    assert rc == 0, d.stderr()
    d.close()
    assert H.sanitizer_report(d.stderr()) is None


def test_eof_exits_zero(demo_db, tmp_path):
    d = StdioDaemon(demo_db, tmp_path)
    assert d.close() == 0
    assert d.raw == []
    assert H.sanitizer_report(d.stderr()) is None
