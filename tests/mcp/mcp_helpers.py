"""Helpers of the homelab-mcpd tests: find the programs, run the CLI, start
and stop the daemon, and speak raw HTTP / JSON-RPC to it (http.client only).

Network rule: everything here talks to 127.0.0.1 and nothing else.
"""
import http.client
import http.server
import json
import os
import queue
import re
import signal
import subprocess
import threading
import time

HOST = "127.0.0.1"
SUPPORTED_VERSIONS = ("2025-11-25", "2025-06-18", "2025-03-26")
LATEST_VERSION = "2025-11-25"
ACCEPT_BOTH = "application/json, text/event-stream"
SANITIZER_MARKERS = ("Sanitizer", "runtime error:", "SUMMARY: ", "==ERROR")
TOKEN_RE = re.compile(r"hlt_[a-z0-9]{8}_[A-Za-z0-9_-]{43}")


def _source_dir():
    return os.environ.get("HOMELAB_SOURCE_DIR") or os.path.dirname(
        os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def homelab_bin():
    if os.environ.get("HOMELAB_BIN"):
        return os.environ["HOMELAB_BIN"]
    build = os.environ.get("HOMELAB_BUILD_DIR") or os.path.join(_source_dir(), "build")
    return os.path.join(build, "homelab")


def mcpd_bin():
    if os.environ.get("HOMELAB_MCPD"):
        return os.environ["HOMELAB_MCPD"]
    return os.path.join(os.path.dirname(os.path.abspath(homelab_bin())), "homelab-mcpd")


def clean_env(extra=None):
    """The environment of a child: never the user's own database, key or MCP_* settings."""
    env = dict(os.environ)
    for k in ("HOMELAB_DB_PATH", "HOMELAB_DB_KEY", "HOMELAB_AUDIT_DB", "MCP_HOST", "MCP_PORT"):
        env.pop(k, None)
    env.update(extra or {})
    return env


def sanitizer_report(text):
    """The first line of a sanitizer report in text, or None."""
    for line in text.splitlines():
        if any(m in line for m in SANITIZER_MARKERS):
            return line
    return None


# ------------------------------------------------------------------ CLI ---

def cli(db, *args, check=True, env=None):
    proc = subprocess.run([homelab_bin(), "--db", db] + [str(a) for a in args], capture_output=True,
                          text=True, timeout=60, stdin=subprocess.DEVNULL, env=clean_env(env))
    if check:
        assert proc.returncode == 0, (args, proc.returncode, proc.stdout, proc.stderr)
    return proc


def cli_json(db, *args):
    return json.loads(cli(db, "--json", *args).stdout)


def cli_error(db, *args):
    """The library's message of a failing CLI call (stderr without the 'homelab: ' prefix)."""
    proc = cli(db, *args, check=False)
    assert proc.returncode != 0, proc
    msg = proc.stderr.strip().splitlines()[-1]
    return msg[len("homelab: "):] if msg.startswith("homelab: ") else msg


def make_demo_db(path):
    cli(str(path), "db", "init", "--demo")
    return str(path)


def create_token(db, name, scope):
    proc = cli(db, "tokens", "create", name, "--scope", scope)
    m = TOKEN_RE.search(proc.stdout)
    assert m, f"no token in the output of tokens create: {proc.stdout!r} {proc.stderr!r}"
    return m.group(0)


# --------------------------------------------------------------- daemon ---

class Daemon:
    """One homelab-mcpd on 127.0.0.1 with --port 0 --port-file."""

    def __init__(self, workdir, db=None, args=(), env=None, keepalive_s=None, port="0", prefix=(), binary=None):
        self.workdir = str(workdir)
        os.makedirs(self.workdir, exist_ok=True)
        self.port_file = os.path.join(self.workdir, "port")
        self.err_path = os.path.join(self.workdir, "stderr.txt")
        self.out_path = os.path.join(self.workdir, "stdout.txt")
        binary = binary or mcpd_bin()
        argv = list(prefix) + [binary]
        if db is not None:
            argv += ["--db", str(db)]
        argv += ["--host", HOST, "--port-file", self.port_file]
        if port is not None:
            argv += ["--port", str(port)]
        if keepalive_s is not None:
            argv += ["--keepalive-s", str(keepalive_s)]
        argv += list(args)
        self.argv = argv
        assert os.access(binary, os.X_OK), f"{binary} is missing: build homelab-mcpd first"
        self._err = open(self.err_path, "wb")
        self._out = open(self.out_path, "wb")
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self._out, stderr=self._err,
                                     env=clean_env(env))
        self.port = self._wait_port(10.0)
        self.url = f"http://{HOST}:{self.port}"
        self.rc = None

    def _wait_port(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if os.path.exists(self.port_file):
                with open(self.port_file) as f:
                    text = f.read()
                if text.endswith("\n"):
                    assert re.fullmatch(r"[0-9]+\n", text), f"port file holds {text!r}"
                    port = int(text)
                    assert 0 < port < 65536, text
                    return port
            if self.proc.poll() is not None:
                raise AssertionError(f"homelab-mcpd exited with {self.proc.returncode} before listening: "
                                     f"{self.stderr()!r}")
            time.sleep(0.02)
        self.proc.kill()
        self.proc.wait()
        raise AssertionError(f"no port file after {timeout} s: {self.stderr()!r}")

    def stderr(self):
        if not self._err.closed:
            self._err.flush()
        with open(self.err_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stdout(self):
        if not self._out.closed:
            self._out.flush()
        with open(self.out_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def http(self):
        return Http(self.port)

    def stop(self, sig=signal.SIGTERM, timeout=15.0):
        """Stop it with sig; returns the exit code (None if it had to be killed)."""
        if self.rc is not None or self.proc.poll() is not None:
            self.rc = self.proc.returncode
            return self.rc
        self.proc.send_signal(sig)
        try:
            self.rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            self.rc = None
        self._err.close()
        self._out.close()
        return self.rc

    def stop_and_check(self, sig=signal.SIGTERM):
        rc = self.stop(sig)
        err = self.stderr()
        assert rc == 0, f"homelab-mcpd exit status {rc} after {signal.Signals(sig).name}; stderr: {err[-4000:]}"
        report = sanitizer_report(err)
        assert report is None, f"sanitizer report: {report}\n{err[-8000:]}"


# ----------------------------------------------------------------- HTTP ---

class Resp:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # lower-case name -> value
        self.body = body

    def header(self, name):
        return self.headers.get(name.lower())

    @property
    def content_type(self):
        return (self.header("content-type") or "").split(";")[0].strip().lower()

    def json(self):
        return json.loads(self.body)

    def messages(self):
        """The JSON-RPC messages of the body (a JSON body or an SSE stream of them)."""
        if self.content_type == "text/event-stream":
            return [json.loads(e["data"]) for e in parse_sse(self.body.decode()) if e.get("data")]
        return [self.json()]

    def __repr__(self):
        return f"<{self.status} {self.headers} {self.body[:500]!r}>"


def parse_sse(text):
    """Events of a complete SSE text: [{"event":..., "data":..., "id":...}]; comments are dropped."""
    events, cur = [], {}
    for line in text.replace("\r\n", "\n").split("\n"):
        if line == "":
            if cur:
                events.append(cur)
            cur = {}
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if field == "data":
            cur["data"] = cur["data"] + "\n" + value if "data" in cur else value
        else:
            cur[field] = value
    if cur:
        events.append(cur)
    return events


class Http:
    def __init__(self, port, timeout=20.0):
        self.port = port
        self.timeout = timeout

    def conn(self, timeout=None):
        return http.client.HTTPConnection(HOST, self.port, timeout=timeout or self.timeout)

    def request(self, method, path, body=None, headers=None, timeout=None):
        c = self.conn(timeout)
        try:
            if isinstance(body, (dict, list)):
                body = json.dumps(body)
            if isinstance(body, str):
                body = body.encode()
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            data = r.read()
            return Resp(r.status, {k.lower(): v for k, v in r.getheaders()}, data)
        finally:
            c.close()

    def post_mcp(self, body, session=None, version=LATEST_VERSION, accept=ACCEPT_BOTH, extra=None,
                 path="/mcp"):
        h = {"Content-Type": "application/json"}
        if accept is not None:
            h["Accept"] = accept
        if session is not None:
            h["Mcp-Session-Id"] = session
        if version is not None:
            h["MCP-Protocol-Version"] = version
        h.update(extra or {})
        return self.request("POST", path, body, h)


def init_body(version=LATEST_VERSION, rid=1):
    return {"jsonrpc": "2.0", "id": rid, "method": "initialize",
            "params": {"protocolVersion": version, "capabilities": {},
                       "clientInfo": {"name": "homelab-tests", "version": "0"}}}


class Session:
    """A Streamable HTTP session on /mcp (or on path: /sse serves it too)."""

    def __init__(self, http_, version=LATEST_VERSION, extra=None, path="/mcp"):
        self.http = http_
        self.version = version
        self.extra = dict(extra or {})
        self.path = path
        self._id = 100
        r = http_.post_mcp(init_body(version), version=None, extra=self.extra, path=path)
        assert r.status == 200, r
        self.init_response = r
        self.init = r.messages()[-1]
        assert "result" in self.init, self.init
        self.sid = r.header("mcp-session-id")
        assert self.sid, r
        r = self.post({"jsonrpc": "2.0", "method": "notifications/initialized"})
        assert r.status == 202, r

    def post(self, body, **kw):
        kw.setdefault("session", self.sid)
        kw.setdefault("version", self.version)
        kw.setdefault("path", self.path)
        extra = dict(self.extra)
        extra.update(kw.pop("extra", None) or {})
        return self.http.post_mcp(body, extra=extra, **kw)

    def next_id(self):
        self._id += 1
        return self._id

    def rpc(self, method, params=None, **kw):
        """A request; returns the JSON-RPC response object (asserting HTTP 200)."""
        rid = self.next_id()
        body = {"jsonrpc": "2.0", "id": rid, "method": method}
        if params is not None:
            body["params"] = params
        r = self.post(body, **kw)
        assert r.status == 200, (method, r)
        msgs = [m for m in r.messages() if m.get("id") == rid]
        assert len(msgs) == 1, r
        return msgs[0]

    def call(self, name, args=None):
        resp = self.rpc("tools/call", {"name": name, "arguments": args or {}})
        assert "result" in resp, resp
        return resp["result"]

    def delete(self):
        return self.http.request("DELETE", self.path, headers={"Mcp-Session-Id": self.sid,
                                                             "MCP-Protocol-Version": self.version,
                                                             **self.extra})


def tool_ok(result):
    """Check a successful tools/call result's shape; return its structured content."""
    assert result.get("isError") is False, result
    content = result["content"]
    assert len(content) == 1 and content[0]["type"] == "text", content
    parsed = json.loads(content[0]["text"])
    assert result["structuredContent"] == parsed, result
    return parsed


def tool_error(result):
    """Check a failed tools/call result's shape; return its text."""
    assert result.get("isError") is True, result
    content = result["content"]
    assert len(content) >= 1 and content[0]["type"] == "text", content
    return content[0]["text"]


# ------------------------------------------------------ slow services ---

class SlowServer:
    """Answers 200 after delay_s; counts the requests it got."""

    def __init__(self, delay_s):
        outer = self
        self.requests = 0
        self.lock = threading.Lock()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                with outer.lock:
                    outer.requests += 1
                time.sleep(delay_s)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        self.server = http.server.ThreadingHTTPServer((HOST, 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class StdioDaemon:
    """homelab-mcpd --stdio [args] on db: lines read by a thread, stderr to a file."""

    def __init__(self, db, tmp_path, env=None, args=()):
        self.err_path = str(tmp_path / "stdio-stderr.txt")
        self._err = open(self.err_path, "wb")
        self.proc = subprocess.Popen([mcpd_bin(), "--stdio", "--db", db, *args], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self._err, env=clean_env(env))
        self.lines = queue.Queue()
        self.raw = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for line in self.proc.stdout:
            self.raw.append(line)
            self.lines.put(line)
        self.lines.put(None)

    def send_raw(self, data):
        self.proc.stdin.write(data if isinstance(data, bytes) else data.encode())
        self.proc.stdin.flush()

    def send(self, msg):
        self.send_raw(json.dumps(msg) + "\n")

    def recv(self, timeout=10):
        line = self.lines.get(timeout=timeout)
        assert line is not None, f"stdout closed; stderr: {self.stderr()}"
        assert line.endswith(b"\n"), line
        return json.loads(line)

    def nothing_pending(self):
        return self.lines.empty()

    def request(self, rid, method, params=None):
        msg = {"jsonrpc": "2.0", "id": rid, "method": method}
        if params is not None:
            msg["params"] = params
        self.send(msg)
        resp = self.recv()
        assert resp["id"] == rid, resp
        return resp

    def stderr(self):
        if not self._err.closed:
            self._err.flush()
        with open(self.err_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def close(self, timeout=15):
        """Close stdin (EOF) and return the exit code."""
        try:
            self.proc.stdin.close()
        except BrokenPipeError:
            pass
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            rc = None
        self._reader.join(5)
        self._err.close()
        return rc
