"""resources/subscribe and resources/unsubscribe, and the
notifications/resources/updated a subscribed session gets when
hl_resource_notify_updated() is called (issue 13), with the conformance
fixture module preloaded (its conformance_touch_resource tool calls it):
on a Streamable HTTP session's GET stream and over stdio."""
import json
import queue
import threading

import pytest

import mcp_helpers as H
from test_conformance import fixture_module
from test_stdio import StdioDaemon

WATCHED = "test://watched-resource"
CONTROL = "test://static-text"


@pytest.fixture(scope="module")
def fx_daemon(tmp_path_factory, shared_db):
    d = H.Daemon(tmp_path_factory.mktemp("mcpd-fx"), db=shared_db, keepalive_s=1,
                 env={"LD_PRELOAD": fixture_module()})
    yield d
    d.stop_and_check()


class Stream:
    """A Streamable HTTP session's GET stream; messages read by a thread."""

    def __init__(self, s):
        self.conn = s.http.conn(timeout=30)
        self.conn.request("GET", "/mcp", headers={"Accept": "text/event-stream", "Mcp-Session-Id": s.sid,
                                                  "MCP-Protocol-Version": s.version, **s.extra})
        self.resp = self.conn.getresponse()
        assert self.resp.status == 200, self.resp.status
        self.msgs = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        try:
            while True:
                line = self.resp.readline()
                if not line:
                    break
                if line.startswith(b"data:"):
                    self.msgs.put(json.loads(line[5:]))
        except Exception:  # noqa: BLE001 - closed under the reader
            pass
        self.msgs.put(None)

    def next(self, timeout=10):
        m = self.msgs.get(timeout=timeout)
        assert m is not None, "the stream ended"
        return m

    def close(self):
        self.conn.close()


def _ok(s, method, params):
    r = s.rpc(method, params)
    assert r.get("result") == {}, r


def _touch(s, uri):
    res = s.call("conformance_touch_resource", {"uri": uri})
    assert res["isError"] is False, res


def _updated(uri):
    return {"jsonrpc": "2.0", "method": "notifications/resources/updated", "params": {"uri": uri}}


def test_capability_declared(fx_daemon):
    s = H.Session(fx_daemon.http())
    assert s.init["result"]["capabilities"]["resources"]["subscribe"] is True


def test_subscriber_is_told_until_it_unsubscribes(fx_daemon):
    s = H.Session(fx_daemon.http())
    other = H.Session(fx_daemon.http())
    st, other_st = Stream(s), Stream(other)
    try:
        _ok(s, "resources/subscribe", {"uri": WATCHED})
        _ok(s, "resources/subscribe", {"uri": WATCHED})  # again: still one subscription
        _ok(s, "resources/subscribe", {"uri": CONTROL})
        _ok(other, "resources/subscribe", {"uri": CONTROL})
        _touch(s, WATCHED)
        assert st.next() == _updated(WATCHED)
        # a change made from another session reaches this one too
        _touch(other, WATCHED)
        assert st.next() == _updated(WATCHED)
        _ok(s, "resources/unsubscribe", {"uri": WATCHED})
        _touch(s, WATCHED)
        _touch(s, CONTROL)
        # the unsubscribed URI sent nothing: the next message is the control's
        assert st.next() == _updated(CONTROL)
        # the other session never subscribed to WATCHED: it saw only the control
        assert other_st.next() == _updated(CONTROL)
        assert st.msgs.empty() and other_st.msgs.empty()
    finally:
        st.close()
        other_st.close()


def test_ended_session_is_forgotten(fx_daemon):
    s = H.Session(fx_daemon.http())
    _ok(s, "resources/subscribe", {"uri": WATCHED})
    assert s.delete().status == 200
    # nobody is left to tell: the touch still succeeds, the daemon stays up
    live = H.Session(fx_daemon.http())
    _touch(live, WATCHED)
    assert live.rpc("ping").get("result") == {}


@pytest.mark.parametrize("params,code,text", [
    ({"uri": "test://no-such-resource"}, -32002, "Resource not found: test://no-such-resource"),
    ({}, -32602, "params.uri (a string) is required"),
    ({"uri": 7}, -32602, "params.uri (a string) is required"),
])
@pytest.mark.parametrize("method", ["resources/subscribe", "resources/unsubscribe"])
def test_bad_subscriptions(fx_daemon, method, params, code, text):
    s = H.Session(fx_daemon.http())
    err = s.rpc(method, params)["error"]
    assert err["code"] == code and text in err["message"], err


def test_too_many_subscriptions(fx_daemon):
    s = H.Session(fx_daemon.http())
    for i in range(64):
        _ok(s, "resources/subscribe", {"uri": f"test://template/{i}/data"})
    err = s.rpc("resources/subscribe", {"uri": "test://template/64/data"})["error"]
    assert err["code"] == -32602 and "too many subscriptions" in err["message"], err
    _ok(s, "resources/unsubscribe", {"uri": "test://template/0/data"})
    _ok(s, "resources/subscribe", {"uri": "test://template/64/data"})


def test_stdio_subscriber_is_told(shared_db, tmp_path):
    d = StdioDaemon(shared_db, tmp_path, env={"LD_PRELOAD": fixture_module()})
    try:
        d.request(0, "initialize", {"protocolVersion": H.LATEST_VERSION, "capabilities": {},
                                    "clientInfo": {"name": "homelab-tests", "version": "0"}})
        d.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        assert d.request(1, "resources/subscribe", {"uri": WATCHED})["result"] == {}
        d.send({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                "params": {"name": "conformance_touch_resource", "arguments": {"uri": WATCHED}}})
        assert d.recv() == _updated(WATCHED)
        reply = d.recv()
        assert reply["id"] == 2 and reply["result"]["isError"] is False, reply
        assert d.request(3, "resources/unsubscribe", {"uri": WATCHED})["result"] == {}
        d.send({"jsonrpc": "2.0", "id": 4, "method": "tools/call",
                "params": {"name": "conformance_touch_resource", "arguments": {"uri": WATCHED}}})
        assert d.recv()["id"] == 4  # the reply, no notification before it
    finally:
        rc = d.close()
    err = d.stderr()
    assert rc == 0, (rc, err)
    assert H.sanitizer_report(err) is None, err


def test_subscribe_needs_the_resources_scope(start_daemon, tmp_path):
    db = H.make_demo_db(tmp_path / "scoped.db")
    auditor = H.create_token(db, "auditor", "audit:read")
    d = start_daemon(db=db)
    a = H.Session(d.http(), extra={"Authorization": f"Bearer {auditor}"})
    r = a.post({"jsonrpc": "2.0", "id": 9, "method": "resources/subscribe", "params": {"uri": "homelab://inventory"}})
    err = r.messages()[-1]["error"]
    assert r.status == 403 and err["code"] == -32003 and "lacks the scope inventory:read" in err["message"], r
    _ok(a, "resources/subscribe", {"uri": "homelab://audit/recent"})
    rows = H.cli_json(db, "audit", "list", "--action", "auth_refused")["entries"]
    assert any(row.get("target_id") == "inventory" for row in rows), rows


def test_registered_entries_served(fx_daemon):
    """What the fixture module registered, as the daemon lists and serves it
    beyond what the conformance scenarios check."""
    s = H.Session(fx_daemon.http())
    tools = {t["name"]: t for t in s.rpc("tools/list")["result"]["tools"]}
    # content tools declare no outputSchema (clients would demand structuredContent); others keep theirs
    assert "outputSchema" not in tools["test_simple_text"], tools["test_simple_text"]
    assert tools["homelab_list_vms"]["outputSchema"]["type"] == "object"
    assert tools["json_schema_2020_12_tool"]["inputSchema"]["$defs"]["address"]["type"] == "object"
    res = {r["uri"]: r for r in s.rpc("resources/list")["result"]["resources"]}
    assert res["test://static-text"]["mimeType"] == "text/plain"
    assert res["test://static-binary"]["mimeType"] == "image/png"
    assert "homelab://inventory" in res
    tmpls = [t["uriTemplate"] for t in s.rpc("resources/templates/list")["result"]["resourceTemplates"]]
    assert "test://template/{id}/data" in tmpls and "homelab://vms/{name}" in tmpls, tmpls
    [c] = s.rpc("resources/read", {"uri": "test://template/a%20b/data"})["result"]["contents"]
    assert json.loads(c["text"]) == {"id": "a b", "templateTest": True, "data": "Data for ID: a b"}
    for uri in ("test://template//data", "test://template/1/2/data", "test://template/%00/data"):
        err = s.rpc("resources/read", {"uri": uri})["error"]
        assert err["code"] == -32002, (uri, err)
    comp = s.rpc("completion/complete", {"ref": {"type": "ref/prompt", "name": "test_prompt_with_arguments"},
                                         "argument": {"name": "arg1", "value": "PAR"}})["result"]["completion"]
    assert comp == {"values": ["paris", "park", "party"], "total": 3, "hasMore": False}
    comp = s.rpc("completion/complete", {"ref": {"type": "ref/prompt", "name": "test_prompt_with_arguments"},
                                         "argument": {"name": "arg2", "value": "x"}})["result"]["completion"]
    assert comp["values"] == []
    err = s.rpc("prompts/get", {"name": "test_prompt_with_arguments", "arguments": {"arg1": "x"}})["error"]
    assert err["code"] == -32602 and "argument 'arg2' is required" in err["message"], err
    err = s.rpc("prompts/get", {"name": "test_simple_prompt", "arguments": "x"})["error"]
    assert err["code"] == -32602 and "arguments must be an object" in err["message"], err
    got = s.rpc("prompts/get", {"name": "test_prompt_with_arguments", "arguments": {"arg1": "a\"b", "arg2": "c"}})
    assert got["result"]["messages"][0]["content"]["text"] == "Prompt with arguments: arg1='a\"b', arg2='c'"


def test_audit_log_resource_announces_each_row(start_daemon, tmp_path):
    """The library says homelab://audit/recent changed when it commits an
    audit row: here the row of this session's own refused call."""
    db = H.make_demo_db(tmp_path / "audit.db")
    auditor = H.create_token(db, "auditor", "audit:read")
    d = start_daemon(db=db)
    a = H.Session(d.http(), extra={"Authorization": f"Bearer {auditor}"})
    st = Stream(a)
    try:
        _ok(a, "resources/subscribe", {"uri": "homelab://audit/recent"})
        r = a.post({"jsonrpc": "2.0", "id": 5, "method": "tools/call",
                    "params": {"name": "homelab_list_vms", "arguments": {}}})
        assert r.status == 403, r
        assert st.next() == _updated("homelab://audit/recent")
        [c] = a.rpc("resources/read", {"uri": "homelab://audit/recent"})["result"]["contents"]
        entries = json.loads(c["text"])["entries"]
        assert any(e["action"] == "auth_refused" and e["target_id"] == "homelab_list_vms" for e in entries), entries
    finally:
        st.close()
