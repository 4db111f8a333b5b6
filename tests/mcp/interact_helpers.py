"""Helpers of test_elicitation.py and test_cancel.py: the inventory with the
private sshd of tests/remote as its "whisper" VM, the SDK client of
sdk_elicit.mjs, and raw clients that read what the daemon sends while a
tool call runs (a Streamable HTTP POST's event stream as it comes, the
legacy /sse stream, stdio lines). Everything talks to 127.0.0.1 only."""
import http.client
import json
import os
import queue
import re
import shutil
import sqlite3
import subprocess
import sys
import threading
import time

import mcp_helpers as H

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "remote"))
from sshd_helper import Sshd, _children  # noqa: E402,F401

ELICIT_CAPS = {"elicitation": {}}


class Lab:
    """A database whose VM whisper is the test's own sshd on 127.0.0.1, a file root, a token with
    every scope the destructive tools need, and the environment the daemon needs to reach the sshd."""

    def __init__(self, work):
        self.work = work
        self.sshd = Sshd(work / "sshd")
        self.sshd.start()
        kh = work / "known_hosts"
        kh.write_text(self.sshd.known_hosts_line())
        self.root = work / "root"
        self.root.mkdir()
        self.db = str(work / "homelab.db")
        H.cli(self.db, "db", "init")
        H.cli(self.db, "vms", "add", "whisper", "--ip", "127.0.0.1", "--ssh-port", self.sshd.port,
              "--ssh-user", "root", "--file-root", self.root)
        self.token = H.create_token(self.db, "alice", "ssh:exec,files:write,inventory:read")
        home = work / "home"
        home.mkdir()
        self.env = {"HOMELAB_KNOWN_HOSTS": str(kh), "HOMELAB_SSH_KEY": str(self.sshd.user_key),
                    "HOME": str(home)}

    def daemon(self, name, args=()):
        return H.Daemon(self.work / name, db=self.db, env=self.env, args=list(args), keepalive_s=1)

    def audit(self, action_like="confirm_%"):
        """(action, result, target_type, target_id, user, details) of the audit rows, oldest first."""
        con = sqlite3.connect(self.db)
        try:
            return con.execute("SELECT action, result, target_type, target_id, user, details FROM audit_log "
                               "WHERE action LIKE ? ORDER BY id", (action_like,)).fetchall()
        finally:
            con.close()

    def stop(self):
        self.sshd.stop()


def sdk(transport, tool, args=None, url=None, token=None, answer="accept", lab=None, mcpd_args=(),
        no_elicitation=False, abort_after_ms=None, then=None, timeout=90):
    """Run sdk_elicit.mjs once; (its JSON line, exit code)."""
    node = shutil.which("node")
    assert node, "node is not installed (Node.js is a test dependency: see DESIGN.md)"
    assert os.path.isdir(os.path.join(HERE, "node_modules", "@modelcontextprotocol", "sdk")), \
        "tests/mcp/node_modules is missing: run scripts/install-npm-deps.sh"
    argv = [node, os.path.join(HERE, "sdk_elicit.mjs"), "--transport", transport, "--tool", tool,
            "--args", json.dumps(args or {}), "--answer", answer]
    if url:
        argv += ["--url", url]
    if token:
        argv += ["--token", token]
    if transport == "stdio":
        argv += ["--mcpd", H.mcpd_bin(), "--db", lab.db, "--env", json.dumps(H.clean_env(lab.env)),
                 "--mcpd-args", json.dumps(list(mcpd_args))]
    if no_elicitation:
        argv += ["--no-elicitation", "1"]
    if abort_after_ms:
        argv += ["--abort-after-ms", str(abort_after_ms)]
    if then:
        argv += ["--then", then]
    proc = subprocess.run(argv, cwd=HERE, capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL, env=H.clean_env())
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1, (proc.returncode, proc.stdout, proc.stderr)
    return json.loads(lines[0]), proc.returncode


def wait_until(pred, timeout, step=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(step)
    return pred()


def remote_procs(lab, needle):
    """Processes under the test's sshd whose command line holds needle."""
    out = []
    for pid in _children(lab.sshd.proc.pid):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if needle in cmd:
            out.append(pid)
    return out


# ------------------------------------------------------------ raw clients ---

class EventStream:
    """An HTTP response that is an event stream, read by a thread: its messages as they come."""

    def __init__(self, conn, resp):
        self.conn = conn
        self.resp = resp
        self.status = resp.status
        self.content_type = resp.getheader("Content-Type") or ""
        self.items = queue.Queue()
        self.ended = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()

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
                        self.items.put(cur)
                    cur = {}
                elif not line.startswith(":"):
                    field, _, value = line.partition(":")
                    cur[field] = value[1:] if value.startswith(" ") else value
        except Exception:  # noqa: BLE001 - closed under the reader
            pass
        self.ended.set()
        self.items.put(None)

    def next(self, timeout=10):
        """The next event; None when the stream ended."""
        return self.items.get(timeout=timeout)

    def message(self, timeout=10):
        ev = self.next(timeout)
        assert ev is not None, "the event stream ended"
        return json.loads(ev["data"])

    def close(self):
        self.conn.close()


class RawSession:
    """A Streamable HTTP session on /mcp that declares capabilities, with tools/call POSTs whose event
    stream is read as it comes."""

    def __init__(self, daemon, caps=None, token=None):
        self.http = daemon.http()
        self.auth = {"Authorization": f"Bearer {token}"} if token else {}
        body = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
                "params": {"protocolVersion": H.LATEST_VERSION, "capabilities": caps or {},
                           "clientInfo": {"name": "homelab-interact-tests", "version": "0"}}}
        r = self.http.post_mcp(body, version=None, extra=self.auth)
        assert r.status == 200, r
        self.sid = r.header("mcp-session-id")
        r = self.post({"jsonrpc": "2.0", "method": "notifications/initialized"})
        assert r.status == 202, r

    def headers(self):
        return {"Content-Type": "application/json", "Accept": H.ACCEPT_BOTH, "Mcp-Session-Id": self.sid,
                "MCP-Protocol-Version": H.LATEST_VERSION, **self.auth}

    def post(self, body):
        return self.http.request("POST", "/mcp", body, self.headers())

    def start_call(self, rid, name, args):
        """POST a tools/call and return its response as an EventStream (once the headers came)."""
        conn = http.client.HTTPConnection(H.HOST, self.http.port, timeout=60)
        body = json.dumps({"jsonrpc": "2.0", "id": rid, "method": "tools/call",
                           "params": {"name": name, "arguments": args}})
        conn.request("POST", "/mcp", body=body, headers=self.headers())
        return EventStream(conn, conn.getresponse())


class LegacyClient:
    """GET /sse + POST /messages (2024-11-05). A POST of a tools/call is answered (202) only when the tool
    ends, so post_async sends it from a thread."""

    def __init__(self, daemon, caps=None, token=None):
        self.http = daemon.http()
        self.auth = {"Authorization": f"Bearer {token}"} if token else {}
        conn = self.http.conn(timeout=60)
        conn.request("GET", "/sse", headers={"Accept": "text/event-stream", **self.auth})
        self.stream = EventStream(conn, conn.getresponse())
        ev = self.stream.next()
        assert ev and ev.get("event") == "endpoint", ev
        m = re.fullmatch(r"/messages\?session_id=([0-9a-f]+)", ev["data"])
        assert m, ev
        self.path = ev["data"]
        self.post({"jsonrpc": "2.0", "id": 1, "method": "initialize",
                   "params": {"protocolVersion": "2024-11-05", "capabilities": caps or {},
                              "clientInfo": {"name": "homelab-interact-tests", "version": "0"}}})
        assert self.stream.message()["id"] == 1
        self.post({"jsonrpc": "2.0", "method": "notifications/initialized"})

    def post(self, msg):
        r = self.http.request("POST", self.path, msg, {"Content-Type": "application/json", **self.auth}, timeout=60)
        assert r.status == 202, r
        return r

    def post_async(self, msg):
        t = threading.Thread(target=self.post, args=(msg,), daemon=True)
        t.start()
        return t

    def close(self):
        self.stream.close()


class StdioClient(H.StdioDaemon):
    """homelab-mcpd --stdio with extra arguments, initialized with caps."""

    def __init__(self, lab, tmp_path, args=(), caps=None):
        super().__init__(lab.db, tmp_path, env=lab.env, args=args)
        self.send({"jsonrpc": "2.0", "id": 0, "method": "initialize",
                   "params": {"protocolVersion": H.LATEST_VERSION, "capabilities": caps or {},
                              "clientInfo": {"name": "homelab-interact-tests", "version": "0"}}})
        assert self.recv()["id"] == 0
        self.send({"jsonrpc": "2.0", "method": "notifications/initialized"})

    def response(self, rid, timeout=10):
        """The response to rid; the notifications before it (log messages) are skipped."""
        while True:
            msg = self.recv(timeout)
            if "method" not in msg:
                assert msg.get("id") == rid, msg
                return msg

    def close(self, timeout=15):
        """EOF on stdin; the exit code, after checking stderr has no sanitizer report."""
        rc = super().close(timeout)
        err = self.stderr()
        assert H.sanitizer_report(err) is None, err
        return rc