"""Fixtures of the homelab-mcpd tests.

The CLI is $HOMELAB_BIN (else $HOMELAB_BUILD_DIR/homelab, else build/homelab),
the daemon $HOMELAB_MCPD (else the homelab-mcpd next to the CLI). Each daemon
listens on 127.0.0.1 with --port 0 --port-file, and is stopped with SIGTERM at
the end: it must exit 0 and leave no sanitizer report on stderr.
"""
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import mcp_helpers as H  # noqa: E402

KEEPALIVE_S = 1
ALLOWED_ORIGIN = "https://webui.example.test"


@pytest.fixture(scope="session")
def library_tools(tmp_path_factory):
    """The library's tool table as the CLI shows it: name -> {scope, annotations, title, input, output, help}."""
    db = H.make_demo_db(tmp_path_factory.mktemp("table") / "t.db")
    table = H.cli_json(db, "tools", "list")
    out = {}
    for t in table["tools"]:
        name = t["name"]
        out[name] = dict(t)
        out[name]["input"] = H.cli_json(db, "tools", "schema", name)
        out[name]["output"] = H.cli_json(db, "tools", "schema", name, "--output")
        out[name]["help"] = H.cli(db, "tools", "call", name, "--help", check=False).stdout
    out["__order__"] = [t["name"] for t in table["tools"]]
    return out


@pytest.fixture
def demo_db(tmp_path):
    """A fresh database with the demo inventory."""
    return H.make_demo_db(tmp_path / "demo.db")


@pytest.fixture(scope="module")
def shared_db(tmp_path_factory):
    return H.make_demo_db(tmp_path_factory.mktemp("shared") / "demo.db")


@pytest.fixture(scope="module")
def daemon(tmp_path_factory, shared_db):
    """One daemon per test module on the demo inventory (keep-alive every second,
    one extra allowed origin)."""
    d = H.Daemon(tmp_path_factory.mktemp("mcpd"), db=shared_db, keepalive_s=KEEPALIVE_S,
                 args=["--allow-origin", ALLOWED_ORIGIN])
    yield d
    d.stop_and_check()


@pytest.fixture
def http(daemon):
    return daemon.http()


@pytest.fixture
def session(http):
    s = H.Session(http)
    yield s
    s.delete()


@pytest.fixture
def start_daemon(tmp_path):
    """Factory: start_daemon(db=..., args=[...], env={...}) -> Daemon, stopped and checked at the end."""
    started = []

    def start(db=None, args=(), env=None, keepalive_s=None, port="0"):
        d = H.Daemon(tmp_path / f"mcpd{len(started)}", db=db, args=args, env=env, keepalive_s=keepalive_s,
                     port=port)
        started.append(d)
        return d

    yield start
    for d in started:
        if d.rc is None and d.proc.poll() is None:
            d.stop_and_check()


@pytest.fixture
def url(daemon):
    """The base URL of the module's daemon."""
    return daemon.url
