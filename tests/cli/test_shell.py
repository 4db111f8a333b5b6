"""The interactive shell on a real pseudo-terminal (issue 11): completion of
commands, flags, inventory names, tool names and Ollama models; history
written 0600 and recalled, lines with a password left out; help; Ctrl-C
stops a long command (the checks end, nothing keeps running) and returns to
the prompt; a failed command marks the prompt; Ctrl-D exits."""
import os
import signal
import socket
import stat
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

import term
from term import HOMELAB

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "ollama"))
from ollama_double import OllamaDouble  # noqa: E402



def Shell(hl, cols=120, env=None):
    return term.Shell(hl.db, hl.state, cols=cols, env=env)


@pytest.fixture
def lab(demo):
    demo.ok("vms", "add", "quasar", "--ip", "127.0.3.4", "--status", "running")
    return demo


@pytest.fixture
def shell(lab):
    s = Shell(lab)
    yield s
    s.close()


def test_complete_a_vm_name_and_run_it(shell):
    shell.send("vms show qua\t")
    shell.expect("vms show quasar ")
    shell.send("\r")
    out = shell.expect("homelab> ")
    assert "name:     quasar" in out and "ip:       127.0.3.4" in out


def test_names_are_read_when_tab_is_pressed(lab, shell):
    lab.ok("vms", "add", "quokka")  # by another program, while the shell runs
    shell.send("vms show qu\t\t")
    out = shell.expect("quokka.*\n.*homelab> vms show qu", timeout=5)
    assert "quasar" in out and "quokka" in out


def test_complete_commands_subcommands_and_flags(shell):
    shell.send("serv\t")
    shell.expect("services ")
    shell.send("che\t")
    shell.expect("check ")
    shell.send("--al\t")
    shell.expect("--all ")
    shell.send("\x15")  # Ctrl-U: a new line
    shell.send("vms list --st\t")
    shell.expect("--status ")
    shell.send("running --host p\t")
    shell.expect("--host pve ")
    shell.send("\r")
    out = shell.expect("homelab> ")
    assert "quasar" not in out and "whisper" in out and "sandbox" not in out


def test_complete_local_file_names(shell, tmp_path):
    (tmp_path / "Modelfile.bot").write_text("FROM gemma:2b\n")
    shell.send(f"ollama create bot -f {tmp_path}/Modelf\t")
    shell.expect("Modelfile.bot ")
    shell.send("\x15")


def test_complete_ssh_gpu_and_tools(shell):
    shell.send("ssh \t\t")
    out = shell.expect("homelab> ssh ")
    for word in ("whisper", "harbor", "quasar", "trust", "forget"):
        assert word in out
    shell.send("\x15gpu qu\t")
    shell.expect("gpu quasar ")
    shell.send("\x15tools call homelab_get_v\t")
    shell.expect("tools call homelab_get_vm ")
    shell.send("\x15tools schema homelab_list_h\t")
    shell.expect("tools schema homelab_list_hosts ")
    shell.send("\x15services show ope\t")
    shell.expect("services show open-webui ")
    shell.send("\x15creds get host:\t")
    shell.expect("creds get host:pve ")


class BlackHole:
    """A listener that never answers (connections wait in its backlog)."""

    def __init__(self):
        self.s = socket.socket()
        self.s.bind(("127.0.0.1", 0))
        self.s.listen(16)
        self.url = f"http://127.0.0.1:{self.s.getsockname()[1]}"

    def close(self):
        self.s.close()


def test_complete_ollama_models_only_when_ollama_answers_fast(hl):
    hl.ok("db", "init")
    hl.ok("vms", "add", "whisper", "--ip", "127.0.0.1")
    hl.ok("vms", "add", "mute", "--ip", "127.0.0.2")
    hole = BlackHole()
    with OllamaDouble() as double:
        hl.ok("services", "add", "ollama", "--vm", "whisper", "--url", double.url)
        hl.ok("services", "add", "ollama-mute", "--vm", "mute", "--url", hole.url)
        s = Shell(hl)
        try:
            s.send("ollama show gem\t")
            s.expect("ollama show gemma:2b ")
            s.send("\x15ollama rm --target whisper lla\t")
            s.expect("llama3.2:latest ")
            # an Ollama that does not answer: no names, and the prompt is back fast
            s.send("\x15ollama show --target mute gem")
            s.expect("gem")
            t0 = time.monotonic()
            s.send("\t")
            s.send("Z")
            out = s.expect("Z")
            took = time.monotonic() - t0
            assert "gemma" not in out
            assert took < 1.0, took
            s.send("\x15exit\r")
            s.wait()
        finally:
            s.close()
            hole.close()


def test_history_written_private_recalled_and_without_passwords(lab):
    path = os.path.join(lab.state, "homelab", "history")
    s = Shell(lab)
    try:
        s.send("hosts list\r")
        s.expect("homelab> ")
        s.send("tools call homelab_set_credentials target=vm:whisper password=hunter2\r")
        s.expect("homelab.*> ")
        s.send("creds set vm:whisper --password\r")
        s.expect("homelab.*> ", timeout=15)
        s.send("\x04")
        assert s.wait() in (0, 1, 2)
    finally:
        s.close()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode) == 0o700
    text = open(path).read()
    assert "hosts list" in text and "hunter2" not in text and "password" not in text
    s = Shell(lab)
    try:
        s.send("\x1b[A")  # up: the last line kept
        s.expect("hosts list")
        s.send("\r")
        out = s.expect("homelab> ")
        assert "pve" in out
        s.send("exit\r")
        assert s.wait() == 0
    finally:
        s.close()


def test_history_in_default_place(lab, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    s = Shell(lab, env={"XDG_STATE_HOME": "", "HOME": str(home)})
    try:
        s.send("vms list\rexit\r")
        assert s.wait() == 0
    finally:
        s.close()
    path = home / ".local" / "state" / "homelab" / "history"
    assert "vms list" in path.read_text() and stat.S_IMODE(path.stat().st_mode) == 0o600


def test_help_in_the_shell_is_the_help_text(lab, shell):
    shell.send("help\r")
    out = shell.expect("homelab> ")
    assert lab.ok("--help").out in out.replace("\r\n", "\n")
    assert "Commands:" in out and "ollama" in out and "completion" in out
    shell.send("help ollama\r")
    out = shell.expect("homelab> ").replace("\r\n", "\n")
    assert lab.ok("ollama", "--help").out in out


def test_failed_command_marks_the_prompt_and_the_shell_goes_on(shell):
    shell.send("vms show nosuch\r")
    out = shell.expect(r"homelab\[3\]> ")
    assert "nosuch" in out
    shell.send("vsm\r")
    out = shell.expect(r"homelab\[2\]> ")
    assert "did you mean 'vms'?" in out
    shell.send("vms show quasar\r")
    shell.expect("name:     quasar")
    shell.expect(r"\nhomelab> ")


def test_ctrl_d_exits(shell):
    shell.send("\x04")
    assert shell.wait() == 0


def test_ctrl_c_at_the_prompt_drops_the_line(shell):
    shell.send("vms rm quas")
    shell.expect("vms rm quas")
    shell.send("\x03")
    shell.expect(r"\^C")
    shell.send("vms show quasar\r")
    shell.expect("name:     quasar")
    shell.expect("homelab> ")


class Slow(BaseHTTPRequestHandler):
    delay = 1.0
    seen = []

    def do_GET(self):
        Slow.seen.append((time.monotonic(), self.path))
        time.sleep(self.delay)
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *a):
        pass


def test_ctrl_c_stops_a_long_command_and_returns_to_the_prompt(lab):
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    Slow.seen = []
    try:
        # forty checks of 1 s each: more than the 16 probed at once
        for i in range(40):
            lab.ok("services", "add", f"slow{i:02d}", "--url", f"http://127.0.0.1:{srv.server_port}/h{i}")
        s = Shell(lab)
        try:
            s.send("services check --all --timeout-s 5\r")
            s.expect("slow01")  # the progress line names the service being checked
            t0 = time.monotonic()
            s.send("\x03")
            out = s.expect(r"homelab\[130\]> ", timeout=5)
            assert time.monotonic() - t0 < 3
            assert "interrupted" in out
            # requests already sent may reach the (loaded) server a little
            # later; once they have, nothing new comes: no check goes on
            n, quiet_since = len(Slow.seen), time.monotonic()
            while time.monotonic() - quiet_since < 1.0:
                time.sleep(0.1)
                if len(Slow.seen) != n:
                    n, quiet_since = len(Slow.seen), time.monotonic()
            time.sleep(2.5)
            assert len(Slow.seen) == n and n < 40, n
            s.send("vms show quasar\r")  # the shell still works
            s.expect("name:     quasar")
            s.send("exit\r")
            s.wait()
        finally:
            s.close()
    finally:
        srv.shutdown()
        srv.server_close()


@pytest.fixture
def ollama_lab(hl):
    hl.ok("db", "init")
    hl.ok("vms", "add", "whisper", "--ip", "127.0.0.1")
    with OllamaDouble() as double:
        hl.ok("services", "add", "ollama", "--vm", "whisper", "--url", double.url)
        yield hl, double


def test_ctrl_c_stops_a_pull_in_the_shell(ollama_lab):
    hl, double = ollama_lab
    s = Shell(hl)
    try:
        s.send("ollama pull slow\r")
        s.expect("pulling [0-9a-f]{12}")  # the bar is drawn
        s.send("\x03")
        out = s.expect(r"homelab\[130\]> ", timeout=5)
        assert "pulled slow" not in out and "interrupted" in out
        time.sleep(2.5)  # the whole pull takes about 2 s: it would be done by now
        assert "slow:latest" not in double.models  # ended, not left running
        s.send("ollama ls\r")
        out = s.expect("homelab> ")
        assert "gemma:2b" in out and "slow" not in out.split("ollama ls", 1)[1]
        s.send("exit\r")
        s.wait()
    finally:
        s.close()


def test_ctrl_c_stops_a_pull_on_the_command_line(ollama_lab):
    hl, double = ollama_lab
    pid, fd = term.spawn([HOMELAB, "--db", hl.db, "ollama", "pull", "slow"], env={"XDG_STATE_HOME": hl.state})
    s = term.Shell.__new__(term.Shell)
    s.pid, s.fd, s.buf, s.status = pid, fd, b"", None
    try:
        s.expect("pulling [0-9a-f]{12}")
        os.kill(pid, signal.SIGINT)
        assert s.wait(5) == 130
        assert "interrupted" in s.text() and "pulled slow" not in s.text()
        time.sleep(2.5)
        assert "slow:latest" not in double.models
    finally:
        s.close()
