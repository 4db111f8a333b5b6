"""Run the CLI on a real pseudo-terminal of a given size (pty + TIOCSWINSZ)."""
import fcntl
import os
import pty
import select
import struct
import termios
import time

from conftest import HOMELAB

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
