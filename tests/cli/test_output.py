"""Output rules (issue 11): tables fit the terminal (cells cut with "…",
never a wrapped row) and are never cut elsewhere; colour only on a terminal
without NO_COLOR or TERM=dumb; --quiet; "did you mean"; progress as a bar on
a terminal and status lines otherwise; golden --help of every command."""
import os
import re
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

import term
from conftest import HOMELAB

GOLDEN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden")
ESC = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
LONG_URL = "http://127.0.0.1:9/" + "a-very-long-path-segment/" * 6 + "end"


def golden(name, text):
    path = os.path.join(GOLDEN, name)
    if os.environ.get("HOMELAB_UPDATE_GOLDEN"):
        with open(path, "w") as f:
            f.write(text)
    with open(path) as f:
        assert text == f.read(), f"{name} differs (HOMELAB_UPDATE_GOLDEN=1 rewrites it)"


@pytest.fixture
def wide(demo):
    """The demo inventory plus a VM and a service with long fields."""
    demo.ok("vms", "add", "quasar", "--ip", "127.0.3.4", "--status", "running", "--ssh-user",
            "a-remarkably-long-user-name-for-a-homelab-machine")
    demo.ok("services", "add", "longurl", "--url", LONG_URL, "--vm", "quasar", "--health", "/healthz")
    return demo


@pytest.mark.parametrize("cols", [80, 200])
@pytest.mark.parametrize("args", [["vms", "list"], ["services", "list"], ["tools", "list"]])
def test_tables_fit_the_terminal(wide, cols, args):
    rc, out = term.run(wide.db, args, cols=cols, env={"NO_COLOR": "1"})
    assert rc == 0, out
    lines = out.rstrip("\n").split("\n")
    assert all(len(line) <= cols for line in lines), [len(line) for line in lines]
    assert not ESC.search(out)
    piped = wide.ok(*args).out
    assert len(lines) == len(piped.splitlines())  # a row per line: none wrapped
    if max(len(line) for line in piped.splitlines()) > cols:
        assert "…" in out  # something had to be cut
    else:
        assert out == piped  # it fits: exactly what a pipe gets
    if args[0] != "tools":  # the tool table grows: its fit is checked, not its text
        golden(f"{'_'.join(args)}.{cols}.txt", out)


def test_cut_cells_keep_their_start_and_columns_line_up(wide):
    rc, out = term.run(wide.db, ["services", "list"], cols=80, env={"NO_COLOR": "1"})
    head, *rows = out.rstrip("\n").split("\n")
    row = next(r for r in rows if " longurl " in r)
    cell = row.split()[2]
    assert cell.endswith("…") and len(cell) >= 5 and LONG_URL.startswith(cell[:-1])
    assert head.index("URL") == row.index(cell)
    assert head.index("VM_NAME") == row.index("quasar")


def test_no_cutting_without_a_terminal(wide):
    out = wide.ok("services", "list", env={"COLUMNS": "40"}).out
    assert LONG_URL in out and "…" not in out
    assert "a-remarkably-long-user-name-for-a-homelab-machine" in wide.ok("vms", "list").out


def test_colour_only_on_a_terminal(wide):
    rc, out = term.run(wide.db, ["vms", "list"], cols=200)
    assert rc == 0 and "\x1b[1mVM_ID" in out and "\x1b[0m" in out
    for env in ({"NO_COLOR": "1"}, {"TERM": "dumb"}):
        rc, out = term.run(wide.db, ["vms", "list"], cols=200, env=env)
        assert rc == 0 and "VM_ID" in out and "\x1b" not in out, env
    r = wide.ok("vms", "list")
    assert "\x1b" not in r.out + r.err


def test_no_color_outputs_have_no_escape_sequences(wide):
    for args in (["vms", "list"], ["vms", "show", "quasar"], ["hosts", "list"], ["services", "show", "longurl"],
                 ["tools", "list"], ["db", "info"], ["--help"], ["ip", "list"], ["audit", "list"]):
        rc, out = term.run(wide.db, args, cols=100, env={"NO_COLOR": "1"})
        assert rc == 0 and out and not ESC.search(out), (args, out)


def test_quiet(demo):
    r = demo.ok("--quiet", "vms", "add", "quasar")
    assert "name:     quasar" in r.out and r.err == ""  # the record is the result
    r = demo.ok("-q", "vms", "rm", "quasar")
    assert r.out == "" and r.err == ""
    assert "whisper" in demo.ok("-q", "vms", "list").out  # results still print
    r = demo("-q", "vms", "show", "nosuch")
    assert r.rc == 3 and "nosuch" in r.err  # errors still print


@pytest.mark.parametrize("args, message", [
    (["vsm", "list"], "unknown command 'vsm'; did you mean 'vms'?"),
    (["servics"], "unknown command 'servics'; did you mean 'services'?"),
    (["ollam", "ls"], "did you mean 'ollama'?"),
    (["vms", "lsit"], "unknown subcommand 'vms lsit'; did you mean 'vms list'?"),
    (["services", "chekc", "x"], "did you mean 'services check'?"),
    (["vms", "list", "--stauts", "running"], "unknown option '--stauts'; did you mean '--status'?"),
    (["services", "check", "--al"], "did you mean '--all'?"),
    (["--jsno", "vms", "list"], "unknown option '--jsno'; did you mean '--json'?"),
    (["help", "vmss"], "did you mean 'vms'?"),
])
def test_did_you_mean(demo, args, message):
    r = demo(*args)
    assert r.rc == 2 and message in r.err, r


def test_nothing_near_is_not_suggested(demo):
    r = demo("frobnicate")
    assert r.rc == 2 and "did you mean" not in r.err
    r = demo("vms", "list", "--zzzzzz")
    assert r.rc == 2 and "did you mean" not in r.err


class Slow(BaseHTTPRequestHandler):
    delay = 0.3

    def do_GET(self):
        time.sleep(self.delay)
        body = b"ok"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


@pytest.fixture
def slow_service(demo):
    """Five services on a loopback HTTP server that answers after 0.3 s."""
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    for i in range(5):
        demo.ok("services", "add", f"slow{i}", "--url", f"http://127.0.0.1:{srv.server_port}")
    yield demo
    srv.shutdown()
    srv.server_close()


def test_progress_lines_without_a_terminal(slow_service):
    r = slow_service.ok("services", "check", "--all", "--timeout-s", "2")
    lines = r.err.splitlines()
    assert len(lines) >= 5 and any("slow3" in line for line in lines), r.err
    assert "\r" not in r.err and "\x1b" not in r.err
    assert "slow4" in r.out
    r = slow_service.ok("-q", "services", "check", "--all", "--timeout-s", "2")
    assert r.err == "" and "slow4" in r.out


@pytest.mark.parametrize("cols", [40, 80, 200])
def test_progress_bar_on_a_terminal(slow_service, cols):
    rc, out = term.run(slow_service.db, ["services", "check", "--all", "--timeout-s", "2"], cols=cols,
                       env={"NO_COLOR": "1"})
    assert rc == 0, out
    assert "\r\x1b[K" in out and "%" in out and "/8" in out, out
    for frame in out.split("\r\x1b[K"):
        line = frame.split("\n")[0]
        assert len(line) < cols, (cols, line)  # a bar never wraps


def test_help_of_every_command_is_golden(hl):
    out = hl.ok("--help", db=False).out
    golden("help.txt", out)
    groups = re.findall(r"^  ([a-z]+) ", out.split("Commands:\n")[1].split("\n\n")[0], re.M)
    assert "vms" in groups and "ollama" in groups and "gpu" in groups
    for g in groups:
        r = hl.ok(g, "--help", db=False)
        if g not in ("shell", "help", "completion"):
            assert r.out.startswith(f"homelab {g}: "), g
        assert r.out == hl.ok("help", g, db=False).out
        golden(f"help-{g}.txt", r.out)


def test_ollama_tables_fit_the_terminal(hl):
    import sys
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "ollama"))
    from ollama_double import DIGESTS, OllamaDouble, model_entry
    hl.ok("db", "init")
    hl.ok("vms", "add", "whisper", "--ip", "127.0.0.1")
    long_name = "library/" + "a-remarkably-long-model-name-" * 3 + "q4:latest"
    with OllamaDouble() as double:
        double.models[long_name] = model_entry(long_name, 123456789, DIGESTS[0])
        hl.ok("services", "add", "ollama", "--vm", "whisper", "--url", double.url)
        env = {"NO_COLOR": "1", "http_proxy": "", "HTTP_PROXY": ""}
        for args in (["ollama", "ls"], ["ollama", "ps"]):
            rc, out = term.run(hl.db, args, cols=80, env=env)
            assert rc == 0, out
            lines = out.rstrip("\n").split("\n")
            assert all(len(line) <= 80 for line in lines), out
            piped = hl.ok(*args, env=env).out
            assert len(lines) == len(piped.splitlines())
        rc, out = term.run(hl.db, ["ollama", "ls"], cols=80, env=env)
        assert "…" in out and long_name not in out
        assert long_name in hl.ok("ollama", "ls", env=env).out  # a pipe gets it whole
