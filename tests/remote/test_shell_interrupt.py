"""Ctrl-C in the homelab shell during a remote command (issue 11): the
command on the VM is ended (its process is gone), the shell is back at its
prompt and keeps working. The shell runs on a pseudo-terminal (tests/cli/term.py)."""
import os
import re
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "cli"))
import term  # noqa: E402


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_ctrl_c_ends_the_remote_command(db, trusted, tmp_path):
    s = term.Shell(db, str(tmp_path / "state"), env={"HOMELAB_KNOWN_HOSTS": str(trusted)})
    try:
        s.send("ssh whisper -- 'echo pid=$$; while :; do echo tick; sleep 0.2; done'\r")
        out = s.expect(r"tick\r?\n.*tick", timeout=15)
        pid = int(re.search(r"pid=(\d+)", out).group(1))
        assert alive(pid)  # the private sshd runs on this machine
        t0 = time.monotonic()
        s.send("\x03")
        out = s.expect(r"homelab\[\d+\]> ", timeout=10)
        assert time.monotonic() - t0 < 5
        end = time.monotonic() + 5
        while alive(pid) and time.monotonic() < end:
            time.sleep(0.1)
        assert not alive(pid), "the remote command is still running"
        s.send("ssh whisper -- echo still here\r")
        s.expect("still here")
        s.send("exit\r")
        s.wait()
    finally:
        s.close()


def test_ctrl_c_ends_a_silent_remote_command(db, trusted, tmp_path):
    # prints its pid, then nothing: the output callback still gets a chance
    # (len 0, every half second) to end it
    s = term.Shell(db, str(tmp_path / "state"), env={"HOMELAB_KNOWN_HOSTS": str(trusted)})
    try:
        s.send("ssh whisper -- 'echo pid=$$; exec sleep 60'\r")
        out = s.expect(r"pid=\d+", timeout=15)
        pid = int(re.search(r"pid=(\d+)", out).group(1))
        time.sleep(0.3)
        assert alive(pid)
        t0 = time.monotonic()
        s.send("\x03")
        s.expect(r"homelab\[\d+\]> ", timeout=10)
        assert time.monotonic() - t0 < 3
        end = time.monotonic() + 5
        while alive(pid) and time.monotonic() < end:
            time.sleep(0.1)
        assert not alive(pid), "the remote command is still running"
        s.send("exit\r")
        s.wait()
    finally:
        s.close()


def test_ctrl_c_stops_a_gpu_query_that_hangs(db, trusted, sshd, tmp_path):
    # whisper_gpu_status reports no progress: Ctrl-C reaches it through
    # should_stop, and the shell is back at its prompt (before, the shell
    # waited for nvidia-smi to end)
    smi = sshd.bindir / "nvidia-smi"
    saved = smi.read_bytes()
    pidfile = tmp_path / "smi.pid"
    smi.write_text(f"#!/bin/sh\necho $$ >{pidfile}\nexec sleep 60\n")
    s = term.Shell(db, str(tmp_path / "state"), env={"HOMELAB_KNOWN_HOSTS": str(trusted)})
    try:
        s.send("gpu whisper\r")
        end = time.monotonic() + 15
        while not (pidfile.exists() and pidfile.read_text().strip()) and time.monotonic() < end:
            time.sleep(0.05)
        pid = int(pidfile.read_text())
        assert alive(pid)
        t0 = time.monotonic()
        s.send("\x03")
        s.expect(r"homelab\[\d+\]> ", timeout=10)
        assert time.monotonic() - t0 < 3
        end = time.monotonic() + 5
        while alive(pid) and time.monotonic() < end:
            time.sleep(0.1)
        assert not alive(pid), "nvidia-smi is still running on the VM"
        s.send("exit\r")
        s.wait()
    finally:
        s.close()
        smi.write_bytes(saved)
