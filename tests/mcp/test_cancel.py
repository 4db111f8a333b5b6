"""Cancellation: notifications/cancelled for a tools/call in flight stops the tool on every transport.
A silent `sleep 600` on the test's own sshd is gone (no such process under the sshd) within 3 s of the
cancel, the daemon sends no answer for the cancelled request, and it answers the next one; a cancel of
an unknown id is ignored; a call waiting for the person's answer ends too, and nothing runs."""
import json
import os
import random
import sqlite3
import subprocess
import sys
import time
import types

import pytest

import interact_helpers as I
import mcp_helpers as H


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    lab = I.Lab(tmp_path_factory.mktemp("cancel"))
    lab.d = lab.daemon("mcpd")
    yield lab
    lab.d.stop_and_check()
    lab.stop()


def long_command():
    """A silent command that would run for ten minutes, with an argument of its own to find it by."""
    arg = f"600.{random.randrange(10**5, 10**6)}"
    return f"sleep {arg}", f"sleep {arg}"


def started(lab, needle):
    assert I.wait_until(lambda: I.remote_procs(lab, needle), 10), f"{needle} never started on the sshd"


def gone_within(lab, needle, seconds):
    t0 = time.monotonic()
    assert I.wait_until(lambda: not I.remote_procs(lab, needle), seconds), \
        f"{needle} still runs {seconds} s after the cancel"
    return time.monotonic() - t0


def cancel(rid, reason="the person pressed stop"):
    return {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": rid, "reason": reason}}


def test_streamable_http_raw(lab):
    s = I.RawSession(lab.d, token=lab.token)
    cmd, needle = long_command()
    st = s.start_call(41, "whisper_ssh_command", {"command": cmd, "timeout_s": 600})
    started(lab, needle)
    assert s.post(cancel(41)).status == 202
    took = gone_within(lab, needle, 3.0)
    # the stream ends without an answer for the cancelled request
    msgs = []
    while (ev := st.next(timeout=10)) is not None:
        msgs.append(ev)
    assert st.ended.is_set()
    assert not [m for m in msgs if '"id":41' in m.get("data", "")], msgs
    # the session goes on; the stop is on the record
    r = s.post({"jsonrpc": "2.0", "id": 42, "method": "tools/call", "params": {"name": "homelab_list_vms"}})
    assert r.status == 200 and r.messages()[-1]["result"]["isError"] is False, r
    rows = lab.audit("ssh_command")
    start = [i for i, row in enumerate(rows) if needle in (row[5] or "")]
    assert len(start) == 1 and rows[start[0]][1] == "started", rows
    assert rows[start[0] + 1][1] == "stopped" and "stopped by the caller" in rows[start[0] + 1][5], rows
    print(f"streamable: the remote command was gone {took:.2f} s after the cancel")


def test_streamable_http_sdk_abort(lab):
    """The SDK client's AbortSignal sends notifications/cancelled; the command ends, the next call works."""
    cmd, needle = long_command()
    seen, rc = I.sdk("streamable", "whisper_ssh_command", {"command": cmd, "timeout_s": 600}, url=lab.d.url,
                     token=lab.token, abort_after_ms=2500, then="homelab_list_vms")
    assert rc == 0 and seen["result"] is None and seen["error"] is not None, seen
    assert "the test gave up" in seen["error"]["message"] or "abort" in seen["error"]["message"].lower(), seen
    assert seen["then"]["isError"] is False, seen
    gone_within(lab, needle, 3.0)


def test_legacy_sse_raw(lab):
    c = I.LegacyClient(lab.d, token=lab.token)
    try:
        cmd, needle = long_command()
        post = c.post_async({"jsonrpc": "2.0", "id": 7, "method": "tools/call",
                             "params": {"name": "whisper_ssh_command", "arguments": {"command": cmd}}})
        started(lab, needle)
        c.post(cancel(7))
        gone_within(lab, needle, 3.0)
        post.join(5)
        assert not post.is_alive(), "the POST of the cancelled call was never answered (202)"
        c.post({"jsonrpc": "2.0", "id": 8, "method": "ping"})
        # the next message with an id on the stream is the ping's: none came for 7
        while True:
            msg = c.stream.message()
            if "id" in msg:
                assert msg == {"jsonrpc": "2.0", "id": 8, "result": {}}, msg
                break
    finally:
        c.close()


def test_stdio_raw(lab, tmp_path):
    c = I.StdioClient(lab, tmp_path)
    cmd, needle = long_command()
    c.send({"jsonrpc": "2.0", "id": "call-1", "method": "tools/call",
            "params": {"name": "whisper_ssh_command", "arguments": {"command": cmd}}})
    started(lab, needle)
    # a cancel of an id that is not running changes nothing
    c.send(cancel("call-2"))
    c.send(cancel(1))  # the integer 1 is not the string "call-1"
    time.sleep(0.7)
    assert I.remote_procs(lab, needle)
    c.send(cancel("call-1"))
    gone_within(lab, needle, 3.0)
    c.send({"jsonrpc": "2.0", "id": 9, "method": "ping"})
    assert c.response(9) == {"jsonrpc": "2.0", "id": 9, "result": {}}
    assert c.close() == 0


def test_unknown_id_is_ignored(lab):
    s = I.RawSession(lab.d, token=lab.token)
    assert s.post(cancel(999)).status == 202
    assert s.post(cancel("nope", reason=None)).status == 202
    assert s.post({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {}}).status == 202
    # a call that another id's cancel does not stop
    st = s.start_call(5, "whisper_ssh_command", {"command": "sleep 1; echo done"})
    time.sleep(0.3)
    assert s.post(cancel(6)).status == 202
    msgs = []
    while (ev := st.next(timeout=15)) is not None:
        msgs.append(ev)
    final = [m for m in msgs if '"id":5' in m.get("data", "")]
    assert len(final) == 1 and '"stdout":"done\\n"' in final[0]["data"], msgs


def test_cancel_while_waiting_for_the_person(lab, tmp_path):
    c = I.StdioClient(lab, tmp_path, caps=I.ELICIT_CAPS)
    m = lab.work / "ran-cancel-asked"
    c.send({"jsonrpc": "2.0", "id": 3, "method": "tools/call",
            "params": {"name": "whisper_ssh_command", "arguments": {"command": f"touch {m}"}}})
    ask = c.recv()
    assert ask["method"] == "elicitation/create", ask
    c.send(cancel(3))
    # no answer for 3; the daemon answers the next request, and nothing ran
    c.send({"jsonrpc": "2.0", "id": 4, "method": "ping"})
    assert c.response(4)["result"] == {}
    # a late answer to the question is dropped
    c.send({"jsonrpc": "2.0", "id": ask["id"], "result": {"action": "accept"}})
    c.send({"jsonrpc": "2.0", "id": 5, "method": "ping"})
    assert c.response(5)["result"] == {}
    assert not m.exists()
    assert c.close() == 0


def test_stdio_sdk_abort(lab):
    cmd, needle = long_command()
    seen, rc = I.sdk("stdio", "whisper_ssh_command", {"command": cmd, "timeout_s": 600}, lab=lab,
                     abort_after_ms=2500, then="homelab_list_vms")
    assert rc == 0 and seen["result"] is None and seen["error"] is not None, seen
    assert seen["then"]["isError"] is False, seen
    gone_within(lab, needle, 3.0)


def test_stdio_end_of_input_still_answers_what_came_before(lab, tmp_path):
    """A client may write its requests and close stdin: they are answered (the reader thread does not
    drop them), and the daemon exits 0."""
    p = subprocess.run([H.mcpd_bin(), "--stdio", "--db", lab.db],
                       input=('{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":'
                              '"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"0"}}}\n'
                              '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"whisper_ssh_command",'
                              '"arguments":{"command":"sleep 0.5; echo late"}}}\n'
                              '{"jsonrpc":"2.0","id":3,"method":"ping"}\n'),
                       capture_output=True, text=True, timeout=30, env=H.clean_env(lab.env))
    assert p.returncode == 0, p.stderr
    ids = [json.loads(line).get("id") for line in p.stdout.splitlines() if '"id"' in line]
    assert ids == [1, 2, 3], p.stdout
    assert '"stdout":"late\\n"' in p.stdout


def test_ollama_pull_cancelled(tmp_path):
    """A pull that the Ollama double answers with headers and then nothing ("silent") ends at the cancel,
    not at the stall time-out (120 s); it is audited as stopped."""
    sys_path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "ollama")
    if sys_path not in sys.path:
        sys.path.insert(0, sys_path)
    from ollama_double import OllamaDouble
    double = OllamaDouble().start()
    try:
        db = str(tmp_path / "o.db")
        H.cli(db, "db", "init")
        H.cli(db, "vms", "add", "whisper", "--ip", "127.0.0.1")
        H.cli(db, "services", "add", "ollama", "--vm", "whisper", "--url", double.url)
        lab = types.SimpleNamespace(db=db, env={})
        c = I.StdioClient(lab, tmp_path)
        c.send({"jsonrpc": "2.0", "id": 11, "method": "tools/call",
                "params": {"name": "ollama_pull_model", "arguments": {"model_name": "silent"}}})
        assert I.wait_until(lambda: any(r[1] == "/api/pull" for r in double.requests), 10)
        time.sleep(0.3)
        t0 = time.monotonic()
        c.send(cancel(11))
        c.send({"jsonrpc": "2.0", "id": 12, "method": "ping"})
        assert c.response(12, timeout=10)["result"] == {}   # and none for 11 came before it
        took = time.monotonic() - t0
        assert took < 3.0, took
        assert c.close() == 0
        con = sqlite3.connect(db)
        rows = con.execute("SELECT result FROM audit_log WHERE action = 'ollama_pull' ORDER BY id").fetchall()
        con.close()
        assert rows == [("requested",), ("stopped",)], rows
    finally:
        double.stop()


def test_stdio_cancel_of_a_queued_request(lab, tmp_path):
    """Over stdio requests are answered in order: one that waits behind a running call and is cancelled
    never runs and gets no answer."""
    c = I.StdioClient(lab, tmp_path)
    cmd, needle = long_command()
    m = lab.work / "ran-queued"
    c.send({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": {"name": "whisper_ssh_command", "arguments": {"command": cmd}}})
    started(lab, needle)
    c.send({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
            "params": {"name": "whisper_ssh_command", "arguments": {"command": f"touch {m}"}}})
    c.send(cancel(2))
    c.send(cancel(1))
    gone_within(lab, needle, 3.0)
    c.send({"jsonrpc": "2.0", "id": 3, "method": "ping"})
    assert c.response(3)["result"] == {}   # nothing for 1 or 2 before it
    assert not m.exists()
    assert c.close() == 0


def test_sigterm_ends_running_calls(lab):
    """Stopping the daemon ends the tool calls in flight (a remote command, a question to the person)
    instead of waiting for them: it exits 0 within seconds and the remote command is gone."""
    d = lab.daemon("mcpd-sigterm")
    s = I.RawSession(d, caps=I.ELICIT_CAPS, token=lab.token)
    cmd, needle = long_command()
    run = s.start_call(2, "whisper_ssh_command", {"command": cmd, "timeout_s": 600})
    q = run.message()
    assert q["method"] == "elicitation/create", q
    assert s.post({"jsonrpc": "2.0", "id": q["id"], "result": {"action": "accept"}}).status == 202
    started(lab, needle)
    ask = s.start_call(3, "whisper_write_file", {"file_path": str(lab.root / "never"), "content": "x"})
    assert ask.message()["method"] == "elicitation/create"
    t0 = time.monotonic()
    d.stop_and_check()   # exits 0, no sanitizer report
    assert time.monotonic() - t0 < 8
    assert not (lab.root / "never").exists()
    gone_within(lab, needle, 1.0)


def test_health_check_cancelled(tmp_path):
    """homelab_check_all_services waiting for a service that answers after 20 s ends at the cancel."""
    slow = H.SlowServer(20)
    try:
        db = str(tmp_path / "h.db")
        H.cli(db, "db", "init")
        H.cli(db, "vms", "add", "web", "--ip", "127.0.0.1")
        H.cli(db, "services", "add", "slow", "--vm", "web", "--url", f"http://127.0.0.1:{slow.port}")
        c = I.StdioClient(types.SimpleNamespace(db=db, env={}), tmp_path)
        c.send({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                "params": {"name": "homelab_check_all_services", "arguments": {"timeout_s": 15}}})
        assert I.wait_until(lambda: slow.requests > 0, 10)
        t0 = time.monotonic()
        c.send(cancel(1))
        c.send({"jsonrpc": "2.0", "id": 2, "method": "ping"})
        assert c.response(2, timeout=10)["result"] == {}
        assert time.monotonic() - t0 < 2.0
        assert c.close() == 0
    finally:
        slow.stop()
