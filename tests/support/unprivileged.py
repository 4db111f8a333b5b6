"""Run the built programs as an unprivileged user, wherever the checkout is.

Root ignores file modes, so tests of read-only files and of process
protections run `homelab` and `homelab-mcpd` as nobody.  nobody may not be
able to reach the build tree at all: a clone under /root, or under a 0700
`mktemp -d`, has a parent only its owner can enter.  So the programs and the
library are copied into a directory of the test's own that nobody can read,
and run from there with that directory first on the library path (the
programs' RUNPATH names the build tree, which the loader then skips).
"""
import atexit
import os
import shutil
import tempfile

NOBODY = 65534
SETPRIV = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]

_copy = None


def _build_file(env_name, default_name):
    path = os.environ.get(env_name) or os.path.join(os.environ.get("HOMELAB_BUILD_DIR", "build"), default_name)
    assert os.path.exists(path), f"{path} is missing: build first"
    return path


class Programs:
    """The programs of this build, copied where nobody can run them."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="hl-unpriv-")
        os.chmod(self.dir, 0o755)  # made by us: readable and searchable by all
        self.homelab = self._copy(_build_file("HOMELAB_BIN", "homelab"), "homelab")
        self.mcpd = self._copy(_build_file("HOMELAB_MCPD", "homelab-mcpd"), "homelab-mcpd")
        lib = os.path.realpath(_build_file("HOMELAB_LIBRARY", "libhomelab.so.0"))
        self._copy(lib, "libhomelab.so.0")

    def _copy(self, src, name):
        dst = os.path.join(self.dir, name)
        shutil.copyfile(src, dst)
        os.chmod(dst, 0o755)
        return dst

    def env(self, base=None):
        """An environment for a program of this copy (base: os.environ)."""
        env = dict(os.environ if base is None else base)
        old = env.get("LD_LIBRARY_PATH")
        env["LD_LIBRARY_PATH"] = self.dir + (":" + old if old else "")
        return env

    def remove(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def programs():
    """The one copy for this test process (removed when it exits)."""
    global _copy
    if _copy is None:
        _copy = Programs()
        atexit.register(_copy.remove)
    return _copy


def prefix():
    """The command prefix that drops to nobody (nothing when not root)."""
    return list(SETPRIV) if os.geteuid() == 0 else []


def workdir(prefix_name="hl-nobody-"):
    """A temporary directory nobody can use (the caller removes it)."""
    d = tempfile.mkdtemp(prefix=prefix_name)
    os.chmod(d, 0o755)
    return d
