"""An Ollama API double for tests: the REST wire format of
../shared/reference/ollama-api.md, on 127.0.0.1 (or another loopback
address), on a free port, standard library only.

What it speaks:
  GET  /api/version               {"version": ...}: configurable, to test both /api/create eras
  GET  /api/tags, /api/ps         {"models": [...]} (never null)
  POST /api/show                  the model's details; 404 {"error":"model 'x:latest' not found"}
  POST /api/pull                  NDJSON (chunked, as Go's net/http sends it): see PULL_SCRIPTS
  DELETE /api/delete              200 with an empty body; 404 {"error":"model 'x' not found"}
  POST /api/copy                  200 with an empty body; 404 {"error":"model \"x\" not found"}
  POST /api/create                records the request body; streams status lines; the errors of
                                  each era (legacy: "path or Modelfile are required"; new:
                                  "neither 'from' or 'files' was specified")
  an empty POST/DELETE body       400 {"error":"missing request body"}
  bad JSON                        400 {"error":"invalid character ..."}
  an unknown path                 404 text/plain "404 page not found"

Faults are chosen by model name when pulling (PULL_SCRIPTS), or for any
path with fail(path, status, message) (the next request to path answers
status with {"error": message}).

Run alone: python3 ollama_double.py [--host 127.0.0.1] [--port 0] [--version 0.12.6]
prints "PORT <n>" and serves until killed.
"""
import argparse
import json
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DIGESTS = [
    "5bbbf644084d769b01eddb15aa45cfc8a562ddf6989b8a4f5a7ae0e9694da25e",
    "a80c4f17acd55265feec403c7aef86be0c25983ab279d83f3bcd3abbcb5b8b72",
    "c6eb6f9e7dd6a1b1c1e2f3a4b5c6d7e8f90123456789abcdef0123456789ab82",
]

# How /api/pull behaves, by model name (anything else: "normal").
#   normal  manifest, 3 layers in steps, verifying, writing manifest, success
#   missing "pulling manifest", then {"error":"pull model manifest: file does not exist"}
#   stall   manifest, part of a layer, then the same line again and again, no progress
#   silent  accepts, sends the headers, then nothing at all
#   drop    manifest, part of a layer, then the connection is closed mid-stream
#   nosuccess  manifest and layers, then the stream ends cleanly without "success"
#   garbage manifest, then a line that is not JSON
#   slow    like normal, with a pause between lines (for cancellation)
PULL_SCRIPTS = {
    "missing": "missing", "nosuchmodel": "missing",
    "stall": "stall", "silent": "silent", "drop": "drop", "nosuccess": "nosuccess",
    "garbage": "garbage", "slow": "slow",
}
LAYER_SIZES = [2_000_000, 5_000, 300]


def model_entry(name, size, digest, family="llama", parameter_size="3.2B", quant="Q4_K_M"):
    return {
        "name": name, "model": name, "modified_at": "2025-05-04T17:37:44.706015396-07:00",
        "size": size, "digest": digest,
        "details": {"parent_model": "", "format": "gguf", "family": family, "families": [family],
                    "parameter_size": parameter_size, "quantization_level": quant},
    }


def default_models():
    return {
        "llama3.2:latest": model_entry("llama3.2:latest", 2019393189, DIGESTS[1]),
        "gemma:2b": model_entry("gemma:2b", 1678447520, DIGESTS[2], "gemma", "3B", "Q4_0"),
    }


def normalise(name):
    """Ollama's DisplayShortest: a name without a tag gets :latest."""
    return name if ":" in name.split("/")[-1] else name + ":latest"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "ollama-double"

    def log_message(self, fmt, *args):  # quiet
        pass

    # ---------------------------------------------------------- replies ---
    def reply(self, status, obj=None, text=None):
        if obj is not None:
            body = json.dumps(obj, separators=(",", ":")).encode()
            ctype = "application/json; charset=utf-8"
        else:
            body = (text or "").encode()
            ctype = "text/plain; charset=utf-8"
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def error(self, status, message):
        self.reply(status, {"error": message})

    def start_stream(self):
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.flush()

    def line(self, obj):
        data = (obj if isinstance(obj, str) else json.dumps(obj, separators=(",", ":"))).encode() + b"\n"
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def end_stream(self):
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def drop(self):
        """Close the connection without ending the chunked body."""
        self.wfile.flush()
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.close_connection = True

    # ---------------------------------------------------------- requests ---
    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        return raw

    def json_body(self):
        """The request's JSON object, or None after answering the error."""
        raw = self.read_body()
        self.server.double.record(self.command, self.path, raw)
        if not raw:
            self.error(400, "missing request body")
            return None
        try:
            body = json.loads(raw)
        except ValueError as e:
            self.error(400, f"invalid character in request body: {e}")
            return None
        if not isinstance(body, dict):
            self.error(400, "json: cannot unmarshal into Go value of type api.Request")
            return None
        return body

    def dispatch(self):
        d = self.server.double
        fault = d.take_fault(self.path)
        if fault:
            if self.command in ("POST", "DELETE"):
                d.record(self.command, self.path, self.read_body())
            else:
                d.record(self.command, self.path, b"")
            self.error(*fault)
            return
        routes = {
            ("GET", "/api/version"): self.version, ("HEAD", "/api/version"): self.version,
            ("GET", "/api/tags"): self.tags, ("GET", "/api/ps"): self.ps,
            ("POST", "/api/show"): self.show, ("POST", "/api/pull"): self.pull,
            ("DELETE", "/api/delete"): self.delete, ("POST", "/api/copy"): self.copy,
            ("POST", "/api/create"): self.create, ("GET", "/"): self.root,
        }
        fn = routes.get((self.command, self.path))
        if fn:
            fn()
        elif any(p == self.path for _, p in routes):
            self.read_body()
            self.reply(405, text="405 method not allowed")
        else:
            self.read_body()
            self.reply(404, text="404 page not found")

    do_GET = do_POST = do_DELETE = do_HEAD = lambda self: self.dispatch()

    def root(self):
        self.reply(200, text="Ollama is running")

    def version(self):
        self.server.double.record(self.command, self.path, b"")
        self.reply(200, {"version": self.server.double.version})

    def tags(self):
        d = self.server.double
        d.record(self.command, self.path, b"")
        with d.lock:
            models = list(d.models.values())
        self.reply(200, {"models": models})

    def ps(self):
        d = self.server.double
        d.record(self.command, self.path, b"")
        self.reply(200, {"models": list(d.running)})

    def show(self):
        body = self.json_body()
        if body is None:
            return
        name = body.get("model") or body.get("name")
        if not name:
            return self.error(400, "model is required")
        d = self.server.double
        m = d.models.get(normalise(name))
        if not m:
            return self.error(404, f"model '{normalise(name)}' not found")
        self.reply(200, {
            "modelfile": f"# Modelfile generated by \"ollama show\"\nFROM {m['name']}\nPARAMETER temperature 0.6\n",
            "parameters": "temperature                    0.6\nstop                           \"<|eot_id|>\"",
            "template": "{{ .Prompt }}", "system": m.get("system", "You are helpful."),
            "license": "LLAMA 3.2 COMMUNITY LICENSE", "details": m["details"],
            "model_info": {"general.architecture": m["details"]["family"]},
            "capabilities": ["completion", "tools"], "modified_at": m["modified_at"],
        })

    def pull(self):
        body = self.json_body()
        if body is None:
            return
        name = body.get("model") or body.get("name") or ""
        if not name or " " in name:
            return self.error(400, "invalid model name")
        d = self.server.double
        script = PULL_SCRIPTS.get(name.split(":")[0], "normal")
        self.start_stream()
        self.line({"status": "pulling manifest"})
        if script == "missing":
            self.line({"error": "pull model manifest: file does not exist"})
            return self.end_stream()
        if script == "silent":
            d.stopped.wait(60)
            return self.drop()
        if script == "garbage":
            self.line("this is not json")
            return self.end_stream()
        pause = 0.15 if script == "slow" else 0.01
        for i, size in enumerate(LAYER_SIZES):
            digest = DIGESTS[i]
            status = f"pulling {digest[:12]}"
            self.line({"status": status, "digest": "sha256:" + digest, "total": size})
            for part in (1, 2, 3, 4):
                if script in ("stall", "drop") and part == 3:
                    if script == "drop":
                        return self.drop()
                    # the same line over and over: bytes move, progress does not
                    while not d.stopped.wait(0.2):
                        try:
                            self.line({"status": status, "digest": "sha256:" + digest, "total": size,
                                       "completed": size // 2})
                        except OSError:
                            return
                    return self.drop()
                time.sleep(pause)
                self.line({"status": status, "digest": "sha256:" + digest, "total": size,
                           "completed": size * part // 4})
        self.line({"status": "verifying sha256 digest"})
        self.line({"status": "writing manifest"})
        if script == "nosuccess":
            return self.end_stream()
        self.line({"status": "success"})
        self.end_stream()
        with d.lock:
            d.models[normalise(name)] = model_entry(normalise(name), sum(LAYER_SIZES), DIGESTS[0])

    def delete(self):
        body = self.json_body()
        if body is None:
            return
        name = body.get("model") or body.get("name")
        if not name:
            return self.error(400, "model is required")
        d = self.server.double
        with d.lock:
            key = normalise(name)
            if key not in d.models:
                return self.error(404, f"model '{name}' not found")
            del d.models[key]
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def copy(self):
        body = self.json_body()
        if body is None:
            return
        src, dst = body.get("source"), body.get("destination")
        if not src:
            return self.error(400, "source \"\" is invalid")
        if not dst:
            return self.error(400, "destination \"\" is invalid")
        d = self.server.double
        with d.lock:
            m = d.models.get(normalise(src))
            if not m:
                return self.error(404, f"model \"{src}\" not found")
            d.models[normalise(dst)] = dict(m, name=normalise(dst), model=normalise(dst))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def create(self):
        body = self.json_body()
        if body is None:
            return
        d = self.server.double
        with d.lock:
            d.creates.append(body)
        name = body.get("model") or body.get("name")
        if not name:
            return self.error(400, "invalid model name")
        if d.legacy():
            if not body.get("modelfile") and not body.get("path"):
                return self.error(400, "path or Modelfile are required")
            base = None
            for line in body.get("modelfile", "").splitlines():
                if line.strip().upper().startswith("FROM "):
                    base = line.strip()[5:].strip()
        else:
            # 0.5.5 and later ignore "modelfile" (an unknown field)
            if not body.get("from") and not body.get("files"):
                return self.error(400, "neither 'from' or 'files' was specified")
            base = body.get("from")
        self.start_stream()
        if base and normalise(base) not in d.models:
            self.line({"status": "pulling manifest"})
            self.line({"error": "pull model manifest: file does not exist"})
            return self.end_stream()
        self.line({"status": "reading model metadata"})
        if body.get("system"):
            self.line({"status": "creating system layer"})
        self.line({"status": "using already created layer sha256:" + DIGESTS[1]})
        self.line({"status": "writing layer sha256:" + DIGESTS[2]})
        self.line({"status": "writing manifest"})
        self.line({"status": "success"})
        self.end_stream()
        with d.lock:
            base_entry = d.models.get(normalise(base)) if base else None
            d.models[normalise(name)] = model_entry(normalise(name), (base_entry or {}).get("size", 1000), DIGESTS[2])


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        """A client that went away mid-answer (a stopped pull) is normal here."""
        if not isinstance(sys.exc_info()[1], (ConnectionError, BrokenPipeError, TimeoutError)):
            super().handle_error(request, client_address)


class OllamaDouble:
    """The double: start() it, point an inventory service at .url, stop() it."""

    def __init__(self, version="0.12.6", host="127.0.0.1", port=0):
        self.version = version
        self.host = host
        self.port = port
        self.models = default_models()
        self.running = [{
            "name": "llama3.2:latest", "model": "llama3.2:latest", "size": 6591830464, "digest": DIGESTS[1],
            "details": default_models()["llama3.2:latest"]["details"],
            "expires_at": "2025-10-17T16:47:07.93355-07:00", "size_vram": 5333539264, "context_length": 4096,
        }]
        self.requests = []   # (method, path, body bytes)
        self.creates = []    # the JSON bodies of /api/create
        self.faults = {}     # path -> [(status, message), ...]
        self.lock = threading.Lock()
        self.stopped = threading.Event()
        self.httpd = None
        self.thread = None

    def legacy(self):
        parts = [int(p) for p in self.version.split("-")[0].split(".")[:3]]
        return parts != [0, 0, 0] and tuple(parts) < (0, 5, 5)

    @property
    def url(self):
        return f"http://{self.host}:{self.port}"

    def record(self, method, path, body):
        with self.lock:
            self.requests.append((method, path, body))

    def paths(self):
        with self.lock:
            return [(m, p) for m, p, _ in self.requests]

    def fail(self, path, status, message):
        """The next request to path answers status with {"error": message}."""
        with self.lock:
            self.faults.setdefault(path, []).append((status, message))

    def take_fault(self, path):
        with self.lock:
            q = self.faults.get(path)
            return q.pop(0) if q else None

    def start(self):
        self.httpd = Server((self.host, self.port), Handler)
        self.httpd.double = self
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()
        return self

    def stop(self):
        self.stopped.set()
        if self.httpd:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--version", default="0.12.6")
    a = ap.parse_args()
    if not a.host.startswith("127."):
        sys.exit("ollama_double: loopback addresses only")
    d = OllamaDouble(a.version, a.host, a.port).start()
    print(f"PORT {d.port}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        d.stop()


if __name__ == "__main__":
    main()
