"""Fixtures for the Python binding tests.

The package is imported from the source tree (bindings/python); the library
from $HOMELAB_LIBRARY (set by ctest), else the build tree. Every database is
a temporary file; every server a test talks to is started by the test on
loopback.
"""
import os
import sys
from pathlib import Path

import pytest

SOURCE_DIR = Path(os.environ.get("HOMELAB_SOURCE_DIR") or Path(__file__).resolve().parents[2])
BINDINGS = SOURCE_DIR / "bindings" / "python"
sys.path.insert(0, str(BINDINGS))

import homelab  # noqa: E402

try:
    homelab.load_library()
except homelab.LibraryNotFoundError as e:
    # One clear line instead of the same error from every test. Under
    # HOMELAB_SANITIZE the process needs LD_PRELOAD of libasan (see
    # bindings/python/README.md).
    pytest.exit(f"the Python binding cannot load libhomelab: {e}", returncode=1)


def subprocess_env(**extra):
    """Environment for a child Python that imports the binding from the source tree.

    Inherits HOMELAB_LIBRARY and, under ASan, LD_PRELOAD/ASAN_OPTIONS.
    """
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in [str(BINDINGS), env.get("PYTHONPATH", "")] if p)
    env.setdefault("HOMELAB_LIBRARY", homelab.library_path() or "")
    env.update(extra)
    return env


@pytest.fixture
def db_path(tmp_path):
    return str(tmp_path / "homelab.db")


@pytest.fixture
def empty(db_path):
    """A Homelab on a new, empty database."""
    with homelab.Homelab(db_path) as hl:
        yield hl


@pytest.fixture
def demo(db_path):
    """A Homelab on a database holding the demo inventory."""
    with homelab.Homelab(db_path) as hl:
        hl.load_demo()
        yield hl
