"""Fixtures for the CLI tests: run the built `homelab` on temporary databases."""
import json
import os
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))

HOMELAB = os.environ.get("HOMELAB_BIN") or os.path.join(
    os.environ.get("HOMELAB_BUILD_DIR", "build"), "homelab")


class Result:
    def __init__(self, proc):
        self.rc = proc.returncode
        self.out = proc.stdout
        self.err = proc.stderr

    def json(self):
        return json.loads(self.out)

    def __repr__(self):
        return f"<rc={self.rc} out={self.out!r} err={self.err!r}>"


class Homelab:
    """Runs the CLI with --db pointing at one temporary database."""

    def __init__(self, db):
        self.db = db
        # the shell's history goes beside the database, never to the real home
        self.state = os.path.join(os.path.dirname(db), "state") if db else None

    def __call__(self, *args, input=None, db=True, env=None):
        argv = [HOMELAB] + (["--db", self.db] if db else []) + [str(a) for a in args]
        full_env = dict(os.environ)
        if self.state:
            full_env["XDG_STATE_HOME"] = self.state
        full_env.update(env or {})
        proc = subprocess.run(argv, input=input, capture_output=True, text=True, timeout=60,
                              env=full_env, stdin=None if input is not None else subprocess.DEVNULL)
        return Result(proc)

    def ok(self, *args, **kw):
        r = self(*args, **kw)
        assert r.rc == 0, r
        return r


@pytest.fixture
def hl(tmp_path):
    """A CLI on an empty (not yet created) database."""
    return Homelab(str(tmp_path / "homelab.db"))


@pytest.fixture
def demo(hl):
    """A CLI on a database holding the demo inventory."""
    hl.ok("db", "init", "--demo")
    return hl
