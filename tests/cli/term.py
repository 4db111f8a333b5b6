"""Run the CLI on a real pseudo-terminal of a given size (pty + TIOCSWINSZ)."""
import fcntl
import os
import pty
import re
import signal
import select
import struct
import termios
import time

HOMELAB = os.environ.get("HOMELAB_BIN") or os.path.join(os.environ.get("HOMELAB_BUILD_DIR", "build"), "homelab")

CLEAN_ENV = ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY",
             "HOMELAB_DEFAULT_TARGET", "NO_COLOR", "COLUMNS", "LINES")


def spawn(argv, cols=80, rows=24, env=None):
    """Start argv on a new pseudo-terminal; return (pid, master fd)."""
    pid, fd = pty.fork()
    if pid == 0:
        try:
            for k in CLEAN_ENV:
                os.environ.pop(k, None)
            os.environ["TERM"] = "xterm"
            os.environ.update(env or {})
            # the size is set on the terminal before the program can read it
            fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
            os.execv(argv[0], argv)
        finally:
            os._exit(127)
    return pid, fd


def read_all(fd, timeout=30):
    out, end = b"", time.monotonic() + timeout
    while time.monotonic() < end:
        if not select.select([fd], [], [], 0.5)[0]:
            continue
        try:
            data = os.read(fd, 65536)
        except OSError:
            break
        if not data:
            break
        out += data
    return out


def run(db, args, cols=80, env=None, timeout=30):
    """Run `homelab --db DB ARGS` on a terminal cols wide; (exit code, output)."""
    pid, fd = spawn([HOMELAB, "--db", db] + [str(a) for a in args], cols=cols, env=env)
    out = read_all(fd, timeout)
    os.close(fd)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), out.decode("utf-8", "replace").replace("\r\n", "\n")


ESC = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]|\x1b[=>]")


class Shell:
    """`homelab --db DB` with no command, on a terminal."""

    def __init__(self, db, state, cols=120, env=None):
        full = {"XDG_STATE_HOME": state, "INPUTRC": "/dev/null"}
        full.update(env or {})
        self.pid, self.fd = spawn([HOMELAB, "--db", db], cols=cols, env=full)
        self.buf = b""
        self.status = None
        self.expect("homelab> ")

    def send(self, data):
        os.write(self.fd, data.encode() if isinstance(data, str) else data)

    def text(self):
        return ESC.sub(b"", self.buf).decode("utf-8", "replace")

    def expect(self, pattern, timeout=10):
        """Wait until pattern (a regex) appears in what came since the last
        expect; return that text and keep what follows."""
        rx = re.compile(pattern.encode() if isinstance(pattern, str) else pattern)
        end = time.monotonic() + timeout
        while True:
            clean = ESC.sub(b"", self.buf)
            m = rx.search(clean)
            if m:
                self.buf = clean[m.end():]
                return clean[:m.end()].decode("utf-8", "replace")
            left = end - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {pattern!r} in {clean!r}")
            if select.select([self.fd], [], [], min(left, 0.2))[0]:
                try:
                    data = os.read(self.fd, 65536)
                except OSError:
                    data = b""
                if not data:
                    raise AssertionError(f"the shell ended before {pattern!r}: {clean!r}")
                self.buf += data

    def wait(self, timeout=10):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.status = os.waitstatus_to_exitcode(status)
                return self.status
            try:
                if select.select([self.fd], [], [], 0.1)[0]:
                    self.buf += os.read(self.fd, 65536)
            except OSError:
                time.sleep(0.05)
        raise AssertionError("the shell did not exit")

    def close(self):
        if self.status is None:
            try:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
            except ProcessLookupError:
                pass
        os.close(self.fd)
