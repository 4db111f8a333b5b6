"""Confirmation by elicitation: before a destructive tool runs, homelab-mcpd asks the person through the
client (elicitation/create) when the client declared the capability. The official SDK client's
elicitation handler over Streamable HTTP, the legacy SSE transport and stdio (and raw JSON-RPC on each):
accept runs the tool, decline and cancel run nothing (no file written, no command run on the test's own
sshd) and are audited; a client that dies while asked, or does not answer in time, gets an error and
nothing runs; --confirm required refuses clients without elicitation; --confirm off never asks."""
import json
import subprocess
import time

import pytest

import interact_helpers as I
import mcp_helpers as H


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    lab = I.Lab(tmp_path_factory.mktemp("elicit"))
    lab.auto = lab.daemon("mcpd-auto")
    yield lab
    lab.auto.stop_and_check()
    lab.stop()


def marker(lab, name):
    return lab.work / f"ran-{name}"


# ------------------------------------------------------ SDK client: accept / decline / cancel ---

def test_sdk_accept_runs_the_command(lab):
    m = marker(lab, "sdk-accept")
    seen, rc = I.sdk("streamable", "whisper_ssh_command", {"command": f"touch {m}"}, url=lab.auto.url,
                     token=lab.token, answer="accept")
    assert rc == 0 and seen["error"] is None, seen
    assert seen["result"]["isError"] is False, seen
    assert seen["result"]["structured"]["exit_status"] == 0
    # one question, naming the command and the target
    assert len(seen["asked"]) == 1, seen
    assert seen["asked"][0]["message"] == f"Run this shell command on whisper over SSH?\n\ntouch {m}"
    assert seen["asked"][0]["requestedSchema"] == {"type": "object", "properties": {}}
    assert m.exists()


@pytest.mark.parametrize("answer", ["decline", "cancel"])
def test_sdk_decline_or_cancel_runs_nothing_and_is_audited(lab, answer):
    path = lab.root / f"{answer}.txt"
    before = len(lab.audit())
    seen, rc = I.sdk("streamable", "whisper_write_file", {"file_path": str(path), "content": "x" * 12},
                     url=lab.auto.url, token=lab.token, answer=answer)
    assert rc == 0 and seen["error"] is None, seen
    word = "declined" if answer == "decline" else "cancelled"
    assert seen["result"] == {"isError": True, "structured": None,
                              "text": f"{word} by the person: nothing was run"}, seen
    assert seen["asked"][0]["message"] == (f"Write the file {path} on whisper (12 characters)? An existing file "
                                           "is replaced.")
    assert not path.exists()
    rows = lab.audit()[before:]
    assert rows == [(f"confirm_{word}", word, "tool", "whisper_write_file", "alice", seen["asked"][0]["message"])]
    # nothing of the tool itself was audited: it never started
    assert not [r for r in lab.audit("file_write") if str(path) in (r[5] or "")]


@pytest.mark.parametrize("transport", ["sse", "stdio"])
def test_sdk_other_transports(lab, transport):
    m = marker(lab, f"sdk-{transport}")
    kw = {"url": lab.auto.url, "token": lab.token} if transport == "sse" else {"lab": lab}
    seen, _ = I.sdk(transport, "whisper_ssh_command", {"command": f"touch {m}"}, answer="decline", **kw)
    assert seen["error"] is None and seen["result"]["isError"] is True, seen
    assert "declined by the person" in seen["result"]["text"]
    assert not m.exists()
    seen, _ = I.sdk(transport, "whisper_ssh_command", {"command": f"touch {m}"}, answer="accept", **kw)
    assert seen["result"]["isError"] is False, seen
    assert len(seen["asked"]) == 1 and f"touch {m}" in seen["asked"][0]["message"]
    assert m.exists()


def test_sdk_without_elicitation_runs_as_before(lab):
    m = marker(lab, "no-elicitation")
    seen, _ = I.sdk("streamable", "whisper_ssh_command", {"command": f"touch {m}"}, url=lab.auto.url,
                    token=lab.token, no_elicitation=True)
    assert seen["result"]["isError"] is False and seen["asked"] == [], seen
    assert m.exists()


def test_read_only_tools_are_never_asked_about(lab):
    seen, _ = I.sdk("streamable", "homelab_list_vms", {}, url=lab.auto.url, token=lab.token, answer="decline")
    assert seen["result"]["isError"] is False and seen["asked"] == [], seen


# ------------------------------------------------------------------- a client that goes away ---

@pytest.mark.parametrize("transport", ["streamable", "sse"])
def test_client_dies_while_asked(lab, transport):
    m = marker(lab, f"die-{transport}")
    before = len(lab.audit())
    seen, rc = I.sdk(transport, "whisper_ssh_command", {"command": f"touch {m}"}, url=lab.auto.url,
                     token=lab.token, answer="die")
    assert rc == 3 and len(seen["asked"]) == 1, (rc, seen)
    # the call ends with an error (on the record) within a few seconds, and nothing ran
    assert I.wait_until(lambda: len(lab.audit()) > before, 5), lab.audit()
    row = lab.audit()[before]
    assert row[:5] == ("confirm_failed", "error", "tool", "whisper_ssh_command", "alice"), row
    assert not m.exists()
    # the daemon goes on answering
    seen, _ = I.sdk(transport, "homelab_list_vms", {}, url=lab.auto.url, token=lab.token)
    assert seen["result"]["isError"] is False, seen


def test_stdio_client_dies_while_asked(lab, tmp_path):
    m = marker(lab, "die-stdio")
    c = I.StdioClient(lab, tmp_path, caps=I.ELICIT_CAPS)
    c.send({"jsonrpc": "2.0", "id": 5, "method": "tools/call",
            "params": {"name": "whisper_ssh_command", "arguments": {"command": f"touch {m}"}}})
    ask = c.recv()
    assert ask["method"] == "elicitation/create", ask
    t0 = time.monotonic()
    # the client goes: its end of stdin closes; the question can get no answer, the daemon ends
    assert c.close() == 0
    assert time.monotonic() - t0 < 5
    assert not m.exists()
    assert lab.audit()[-1][:2] == ("confirm_failed", "error")


def test_timeout(lab):
    d = lab.daemon("mcpd-timeout", ["--elicit-timeout-s", "1"])
    try:
        m = marker(lab, "timeout")
        t0 = time.monotonic()
        seen, _ = I.sdk("streamable", "whisper_ssh_command", {"command": f"touch {m}"}, url=d.url,
                        token=lab.token, answer="none")
        assert time.monotonic() - t0 < 15
        assert seen["result"]["isError"] is True, seen
        assert seen["result"]["text"] == ("whisper_ssh_command: could not ask the person (the client did not "
                                          "answer elicitation/create within 1 s): nothing was run"), seen
        assert not m.exists()
    finally:
        d.stop_and_check()


# ---------------------------------------------------------------------- --confirm required / off ---

def test_confirm_required(lab):
    d = lab.daemon("mcpd-required", ["--confirm", "required"])
    try:
        m = marker(lab, "required")
        seen, _ = I.sdk("streamable", "whisper_ssh_command", {"command": f"touch {m}"}, url=d.url,
                        token=lab.token, no_elicitation=True)
        assert seen["result"]["isError"] is True, seen
        assert seen["result"]["text"] == ("whisper_ssh_command changes or destroys things and the person must "
                                          "confirm it first, but this client cannot ask (it has no "
                                          "elicitation): nothing was run")
        assert not m.exists()
        assert lab.audit()[-1][:4] == ("confirm_failed", "refused", "tool", "whisper_ssh_command")
        # tools that destroy nothing still run; a client that can ask is asked and may go on
        seen, _ = I.sdk("streamable", "homelab_list_vms", {}, url=d.url, token=lab.token, no_elicitation=True)
        assert seen["result"]["isError"] is False, seen
        seen, _ = I.sdk("streamable", "whisper_ssh_command", {"command": f"touch {m}"}, url=d.url,
                        token=lab.token, answer="accept")
        assert seen["result"]["isError"] is False and len(seen["asked"]) == 1, seen
        assert m.exists()
    finally:
        d.stop_and_check()


def test_confirm_off_never_asks(lab):
    d = lab.daemon("mcpd-off", ["--confirm", "off"])
    try:
        m = marker(lab, "off")
        seen, _ = I.sdk("streamable", "whisper_ssh_command", {"command": f"touch {m}"}, url=d.url,
                        token=lab.token, answer="decline")
        assert seen["result"]["isError"] is False and seen["asked"] == [], seen
        assert m.exists()
    finally:
        d.stop_and_check()


def test_bad_confirm_option(lab):
    for bad in (["--confirm", "maybe"], ["--elicit-timeout-s", "0"], ["--elicit-timeout-s", "x"]):
        p = subprocess.run([H.mcpd_bin(), "--db", lab.db, *bad], capture_output=True, text=True, timeout=10,
                           env=H.clean_env())
        assert p.returncode == 2 and "bad option" in p.stderr, (bad, p.stderr)
    p = subprocess.run([H.mcpd_bin(), "--help"], capture_output=True, text=True, timeout=10, env=H.clean_env())
    assert "--confirm auto|off|required" in p.stdout and "--elicit-timeout-s N" in p.stdout


# ------------------------------------------------------------------------------- raw JSON-RPC ---

def test_raw_streamable_http(lab):
    """The question arrives on the tools/call POST's event stream; the answer is POSTed to the session
    (202); then the call's answer ends that stream."""
    s = I.RawSession(lab.auto, caps=I.ELICIT_CAPS, token=lab.token)
    m = marker(lab, "raw-http")
    st = s.start_call(7, "whisper_ssh_command", {"command": f"touch {m}"})
    assert st.status == 200 and st.content_type == "text/event-stream"
    ask = st.message()
    assert ask["method"] == "elicitation/create" and isinstance(ask["id"], str), ask
    assert ask["params"]["message"].endswith(f"touch {m}")
    # an answer for an id nobody waits for is dropped; ours is taken
    assert s.post({"jsonrpc": "2.0", "id": "hl-0", "result": {"action": "accept"}}).status == 202
    assert s.post({"jsonrpc": "2.0", "id": ask["id"], "result": {"action": "decline"}}).status == 202
    msgs = []
    while (ev := st.next()) is not None:
        msgs.append(json.loads(ev["data"]))
    final = [x for x in msgs if x.get("id") == 7]
    assert len(final) == 1 and final[0]["result"]["isError"] is True, msgs
    assert "declined by the person" in final[0]["result"]["content"][0]["text"]
    assert not m.exists()
    # an error answer is not a yes either
    st = s.start_call(8, "whisper_ssh_command", {"command": f"touch {m}"})
    ask = st.message()
    assert s.post({"jsonrpc": "2.0", "id": ask["id"], "error": {"code": -1, "message": "no UI here"}}).status == 202
    msgs = []
    while (ev := st.next()) is not None:
        msgs.append(json.loads(ev["data"]))
    final = [x for x in msgs if x.get("id") == 8][0]
    assert "the client answered elicitation/create with an error: no UI here" in \
        final["result"]["content"][0]["text"], final
    assert not m.exists()


def test_raw_legacy_sse(lab):
    c = I.LegacyClient(lab.auto, caps=I.ELICIT_CAPS, token=lab.token)
    try:
        m = marker(lab, "raw-legacy")
        for answer, exists in (("decline", False), ("accept", True)):
            t = c.post_async({"jsonrpc": "2.0", "id": 3, "method": "tools/call",
                              "params": {"name": "whisper_ssh_command", "arguments": {"command": f"touch {m}"}}})
            ask = c.stream.message()
            assert ask["method"] == "elicitation/create", ask
            assert f"touch {m}" in ask["params"]["message"]
            c.post({"jsonrpc": "2.0", "id": ask["id"], "result": {"action": answer}})
            msgs = [c.stream.message()]
            while msgs[-1].get("id") != 3:
                msgs.append(c.stream.message())
            t.join(10)
            assert msgs[-1]["result"]["isError"] is (not exists), msgs
            assert m.exists() is exists
    finally:
        c.close()


def test_raw_stdio(lab, tmp_path):
    c = I.StdioClient(lab, tmp_path, caps=I.ELICIT_CAPS)
    m = marker(lab, "raw-stdio")
    c.send({"jsonrpc": "2.0", "id": 5, "method": "tools/call",
            "params": {"name": "whisper_ssh_command", "arguments": {"command": f"touch {m}"}}})
    ask = c.recv()
    assert ask["method"] == "elicitation/create", ask
    # while the call waits, a malformed answer and an unknown one change nothing
    c.send({"jsonrpc": "2.0", "id": "hl-999", "result": {"action": "accept"}})
    c.send({"jsonrpc": "2.0", "id": ask["id"], "result": {"action": "cancel"}})
    resp = c.recv()
    assert resp["id"] == 5 and resp["result"]["isError"] is True, resp
    assert resp["result"]["content"][0]["text"] == "cancelled by the person: nothing was run"
    assert not m.exists()
    # accept: it runs
    c.send({"jsonrpc": "2.0", "id": 6, "method": "tools/call",
            "params": {"name": "whisper_ssh_command", "arguments": {"command": f"touch {m}"}}})
    ask = c.recv()
    c.send({"jsonrpc": "2.0", "id": ask["id"], "result": {"action": "accept", "content": {}}})
    resp = c.response(6)
    assert resp["id"] == 6 and resp["result"]["isError"] is False, resp
    assert m.exists()
    assert c.close() == 0


def test_raw_stdio_without_capability_is_not_asked(lab, tmp_path):
    c = I.StdioClient(lab, tmp_path, args=["--confirm", "required"])
    c.send({"jsonrpc": "2.0", "id": 5, "method": "tools/call",
            "params": {"name": "whisper_ssh_command", "arguments": {"command": "true"}}})
    resp = c.recv()
    assert resp["id"] == 5 and resp["result"]["isError"] is True, resp
    assert "this client cannot ask" in resp["result"]["content"][0]["text"]
    assert c.close() == 0


def test_json_only_post_cannot_be_asked(lab):
    """A tools/call POST that accepts only application/json has no stream to ask on: under auto the tool
    runs as before; under --confirm required it is refused."""
    m = marker(lab, "json-only")
    s = I.RawSession(lab.auto, caps=I.ELICIT_CAPS, token=lab.token)
    h = {**s.headers(), "Accept": "application/json"}
    body = {"jsonrpc": "2.0", "id": 9, "method": "tools/call",
            "params": {"name": "whisper_ssh_command", "arguments": {"command": f"touch {m}"}}}
    r = s.http.request("POST", "/mcp", body, h)
    assert r.status == 200 and r.content_type == "application/json", r
    assert r.json()["result"]["isError"] is False, r
    assert m.exists()
    d = lab.daemon("mcpd-required-json", ["--confirm", "required"])
    try:
        m.unlink()
        s = I.RawSession(d, caps=I.ELICIT_CAPS, token=lab.token)
        r = s.http.request("POST", "/mcp", body, {**s.headers(), "Accept": "application/json"})
        assert r.json()["result"]["isError"] is True, r
        assert "this client cannot ask" in r.json()["result"]["content"][0]["text"]
        assert not m.exists()
    finally:
        d.stop_and_check()
