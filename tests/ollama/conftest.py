"""Fixtures for the Ollama tests: an Ollama API double on loopback, an
inventory whose VM "whisper" (127.0.0.1) has a service "ollama" pointing at
it, the built CLI and the Python binding on that inventory.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
SOURCE_DIR = Path(os.environ.get("HOMELAB_SOURCE_DIR") or HERE.parents[1])
sys.path.insert(0, str(SOURCE_DIR / "bindings" / "python"))
sys.path.insert(0, str(HERE))

import homelab  # noqa: E402
from ollama_double import OllamaDouble  # noqa: E402

try:
    homelab.load_library()
except homelab.LibraryNotFoundError as e:
    pytest.exit(f"the Python binding cannot load libhomelab: {e}", returncode=1)

HOMELAB = os.environ.get("HOMELAB_BIN") or os.path.join(os.environ.get("HOMELAB_BUILD_DIR", "build"), "homelab")
PROXY_VARS = ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY")


class Result:
    def __init__(self, proc):
        self.rc = proc.returncode
        self.out = proc.stdout
        self.err = proc.stderr

    def json(self):
        return json.loads(self.out)

    def __repr__(self):
        return f"<rc={self.rc} out={self.out!r} err={self.err!r}>"


class Cli:
    """Runs the built `homelab` with --db on one temporary database."""

    def __init__(self, db):
        self.db = db

    def __call__(self, *args, env=None, input=None, timeout=60):
        full_env = {k: v for k, v in os.environ.items() if k not in PROXY_VARS}
        full_env.pop("HOMELAB_DEFAULT_TARGET", None)
        full_env.update(env or {})
        proc = subprocess.run([HOMELAB, "--db", self.db] + [str(a) for a in args], input=input,
                              capture_output=True, text=True, timeout=timeout, env=full_env,
                              stdin=None if input is not None else subprocess.DEVNULL)
        return Result(proc)

    def ok(self, *args, **kw):
        r = self(*args, **kw)
        assert r.rc == 0, r
        return r


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    """No proxy may swallow loopback requests; the default target is whisper."""
    for v in PROXY_VARS + ("HOMELAB_DEFAULT_TARGET", "HOMELAB_OLLAMA_STALL_S"):
        monkeypatch.delenv(v, raising=False)


@pytest.fixture
def double():
    d = OllamaDouble().start()
    yield d
    d.stop()


@pytest.fixture
def cli(tmp_path, double):
    """The CLI on an inventory whose whisper's ollama service is the double."""
    c = Cli(str(tmp_path / "homelab.db"))
    c.ok("db", "init")
    c.ok("vms", "add", "whisper", "--ip", "127.0.0.1")
    c.ok("services", "add", "ollama", "--vm", "whisper", "--url", double.url)
    return c


@pytest.fixture
def hl(cli):
    """The Python binding on the same inventory."""
    with homelab.Homelab(cli.db) as h:
        yield h
