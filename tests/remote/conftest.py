"""Fixtures for the remote tools: a private sshd on loopback (sshd_helper.py),
an inventory whose VM "whisper" points at it, and a known_hosts file.

Nothing here reads the user's ~/.ssh, agent or the system's /etc/ssh: HOME,
HOMELAB_KNOWN_HOSTS and HOMELAB_SSH_KEY point into temporary directories
and SSH_AUTH_SOCK is removed, for this process (the Python binding runs the
library in-process) and for every CLI it starts.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
SOURCE_DIR = Path(os.environ.get("HOMELAB_SOURCE_DIR") or HERE.parents[1])
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(SOURCE_DIR / "bindings" / "python"))

import homelab  # noqa: E402
from sshd_helper import Sshd  # noqa: E402

HOMELAB = os.environ.get("HOMELAB_BIN") or os.path.join(os.environ.get("HOMELAB_BUILD_DIR", "build"), "homelab")
FIXTURES = SOURCE_DIR / "tests" / "fixtures"

_home = tempfile.mkdtemp(prefix="hl-remote-home-")
os.environ["HOME"] = _home
os.environ.pop("SSH_AUTH_SOCK", None)
os.environ.pop("HOMELAB_DEFAULT_TARGET", None)
os.environ.pop("HOMELAB_SSH_MAX_TIMEOUT_S", None)


class Result:
    def __init__(self, proc):
        self.rc = proc.returncode
        self.out = proc.stdout
        self.err = proc.stderr

    def json(self):
        return json.loads(self.out)

    def __repr__(self):
        return f"<rc={self.rc} out={self.out[:2000]!r} err={self.err[:2000]!r}>"


class Cli:
    """Runs `homelab` on one database, in the test's environment."""

    def __init__(self, db):
        self.db = db

    def __call__(self, *args, input=None, env=None, timeout=60, binary=False):
        argv = [HOMELAB, "--db", self.db] + [str(a) for a in args]
        full = dict(os.environ)
        full.update(env or {})
        proc = subprocess.run(argv, input=input, capture_output=True, text=not binary, timeout=timeout, env=full,
                              stdin=None if input is not None else subprocess.DEVNULL)
        return Result(proc)

    def ok(self, *args, **kw):
        r = self(*args, **kw)
        assert r.rc == 0, r
        return r


@pytest.fixture(scope="session")
def sshd():
    d = tempfile.mkdtemp(prefix="hl-sshd-")
    # the stand-in nvidia-smi on the PATH of the server's sessions
    bindir = Path(d) / "bin"
    bindir.mkdir()
    shutil.copy(FIXTURES / "nvidia-smi" / "fake-nvidia-smi", bindir / "nvidia-smi")
    os.chmod(bindir / "nvidia-smi", 0o755)
    server = Sshd(d, path_prepend=str(bindir))
    server.bindir = bindir
    server.start()
    os.environ["HOMELAB_SSH_KEY"] = str(server.user_key)
    yield server
    server.stop()


@pytest.fixture
def known_hosts(tmp_path, sshd, monkeypatch):
    """An empty known_hosts file in use (HOMELAB_KNOWN_HOSTS)."""
    path = tmp_path / "known_hosts"
    path.write_text("")
    monkeypatch.setenv("HOMELAB_KNOWN_HOSTS", str(path))
    return path


@pytest.fixture
def db(tmp_path, sshd):
    """An inventory with VM whisper (vm_id 101) on the private sshd, as root."""
    path = str(tmp_path / "homelab.db")
    with homelab.Homelab(path) as hl:
        hl.load_demo()
    Cli(path).ok("vms", "set", "whisper", "--ip", "127.0.0.1", "--ssh-port", sshd.port, "--ssh-user", "root")
    return path


@pytest.fixture
def cli(db):
    return Cli(db)


@pytest.fixture
def trusted(known_hosts, sshd):
    """known_hosts holds the server's key ([127.0.0.1]:port, plain)."""
    known_hosts.write_text(sshd.known_hosts_line())
    return known_hosts


@pytest.fixture
def lab(db, trusted):
    """A Homelab (Python binding, the library in this process) on db, host key trusted."""
    with homelab.Homelab(db) as hl:
        yield hl


@pytest.fixture
def gpu_case(sshd):
    """Pick the stand-in nvidia-smi's case: gpu_case("rtx-2080-super,apps-two")."""
    case_file = sshd.bindir / "nvidia-smi.case"

    def choose(name):
        case_file.write_text(name + "\n")
    yield choose
    case_file.unlink(missing_ok=True)
