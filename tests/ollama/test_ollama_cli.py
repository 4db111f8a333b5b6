"""`homelab ollama ...` against the Ollama API double: tables, --json (the
tool's result), progress (a bar on a terminal, status lines otherwise),
rm's question, exit codes of each fault."""
import json
import os
import select
import time

import pytest

from conftest import HOMELAB
from ollama_double import DIGESTS, OllamaDouble

STATUSES = ["pulling manifest", f"pulling {DIGESTS[0][:12]}", f"pulling {DIGESTS[1][:12]}",
            f"pulling {DIGESTS[2][:12]}", "verifying sha256 digest", "writing manifest", "success"]


def on_a_terminal(db, args, answer=None, env=None, timeout=30):
    """Run the CLI on a pseudo-terminal; answer a [y/N] question; return
    (exit code, all it wrote)."""
    import pty
    pid, fd = pty.fork()
    if pid == 0:
        try:
            for k in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY", "HOMELAB_DEFAULT_TARGET"):
                os.environ.pop(k, None)
            os.environ.update(env or {})
            os.execv(HOMELAB, [HOMELAB, "--db", db] + [str(a) for a in args])
        finally:
            os._exit(127)
    out, answered, end = b"", False, time.monotonic() + timeout
    while time.monotonic() < end:
        if not select.select([fd], [], [], 0.5)[0]:
            continue
        try:
            data = os.read(fd, 4096)
        except OSError:
            break
        if not data:
            break
        out += data
        if answer is not None and not answered and b"[y/N] " in out:
            os.write(fd, answer.encode() + b"\n")
            answered = True
    os.close(fd)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), out.decode("utf-8", "replace")


def test_ls_table_and_json(cli, hl, double):
    r = cli.ok("ollama", "ls")
    lines = r.out.splitlines()
    assert lines[0].split() == ["NAME", "ID", "SIZE", "MODIFIED"]
    assert lines[1].split()[:4] == ["llama3.2:latest", DIGESTS[1][:12], "2.0", "GB"]
    assert lines[2].split()[:4] == ["gemma:2b", DIGESTS[2][:12], "1.7", "GB"]
    # --json, before the command or after it, is the tool's result as Python gets it
    assert cli.ok("--json", "ollama", "ls").json() == hl.ollama_list_models()
    assert cli.ok("ollama", "ls", "--json").json() == hl.ollama_list_models()


def test_ps_and_show(cli, double):
    r = cli.ok("ollama", "ps")
    assert r.out.splitlines()[1].split() == ["llama3.2:latest", "6.6", "GB", "5.3", "GB", "4096",
                                             "2025-10-17T16:47:07.93355-07:00"]
    r = cli.ok("ollama", "show", "gemma:2b")
    assert "model          gemma:2b\n" in r.out and f"on             whisper ({double.url})\n" in r.out
    assert "family         gemma\n" in r.out and "capabilities   completion tools\n" in r.out
    assert "\nFROM gemma:2b\nPARAMETER temperature 0.6\n" in r.out
    r = cli("ollama", "show", "nosuch")
    assert r.rc == 3 and r.err == f"homelab: model 'nosuch:latest' not found (ollama at {double.url}, target whisper)\n"


def test_target_option(cli, double):
    with OllamaDouble(host="127.0.88.8", port=11434) as other:
        cli.ok("vms", "add", "quasar", "--ip", "127.0.88.8")
        r = cli.ok("ollama", "ls", "--target", "quasar", "--json").json()
        assert r["target"] == "quasar" and r["endpoint"] == "http://127.0.88.8:11434"
        assert other.paths() == [("GET", "/api/tags")]
    assert double.paths() == []
    r = cli("ollama", "ls", "--target", "nosuchvm")
    assert r.rc == 3 and "nosuchvm" in r.err


def test_pull_without_a_terminal_prints_status_lines(cli, double):
    r = cli.ok("ollama", "pull", "gemma:7b")
    assert r.err.splitlines() == STATUSES
    assert r.out.startswith("pulled gemma:7b on whisper: success, 2.0 MB, ")
    j = cli.ok("--json", "ollama", "pull", "phi3").json()
    assert j["status"] == "success" and j["bytes"] == 2005300 and j["digest"] == DIGESTS[0]


def test_pull_on_a_terminal_draws_a_bar(cli, double):
    # "slow" sends a line every 0.15 s: each one is drawn (reports of one
    # status come at most every 0.1 s)
    rc, out = on_a_terminal(cli.db, ["ollama", "pull", "slow"])
    assert rc == 0, out
    assert "\r\x1b[K" in out and "100% [==============================] 2.0 MB/2.0 MB" in out
    assert f"pulling {DIGESTS[0][:12]}" in out and " 50% [" in out
    assert "pulled slow on whisper: success" in out


@pytest.mark.parametrize("model,rc,message", [
    ("nosuchmodel", 3, "pull of nosuchmodel failed on ollama at {url} (target whisper): pull model manifest: "
                       "file does not exist"),
    ("stall", 1, "pull of stall on ollama at {url} (target whisper) stalled: no progress for 1.0 s at "
                 "'pulling 5bbbf644084d' (1000000 of 2000000 bytes)"),
    ("drop", 1, "pull of drop: the connection to ollama at {url} (target whisper) dropped mid-stream at "
                "'pulling 5bbbf644084d' (1000000 of 2000000 bytes): "),
])
def test_pull_faults(cli, double, model, rc, message):
    t = time.monotonic()
    r = cli("ollama", "pull", model, env={"HOMELAB_OLLAMA_STALL_S": "1"})
    print(f"{model}: exit {r.rc} after {time.monotonic() - t:.2f} s: {r.err.splitlines()[-1]}")
    assert r.rc == rc and r.out == ""
    assert r.err.splitlines()[-1].startswith("homelab: " + message.format(url=double.url)), r


def test_rm_asks_on_a_terminal(cli, double):
    rc, out = on_a_terminal(cli.db, ["ollama", "rm", "gemma:2b"], answer="n")
    assert "delete model gemma:2b from the Ollama of the default target? [y/N]" in out
    assert rc == 1 and "homelab: not confirmed; nothing changed" in out
    assert "gemma:2b" in double.models and ("DELETE", "/api/delete") not in double.paths()
    rc, out = on_a_terminal(cli.db, ["ollama", "rm", "gemma:2b"], answer="y")
    assert rc == 0 and f"deleted model gemma:2b on whisper ({double.url})" in out
    assert "gemma:2b" not in double.models
    rc, out = on_a_terminal(cli.db, ["ollama", "rm", "llama3.2", "--yes"])
    assert rc == 0 and "[y/N]" not in out and double.models == {}


def test_rm_and_cp_without_a_terminal(cli, double):
    r = cli.ok("ollama", "rm", "gemma:2b")  # no terminal: no question
    assert r.out == f"deleted model gemma:2b on whisper ({double.url})\n"
    r = cli("ollama", "rm", "gemma:2b")
    assert r.rc == 3 and "model 'gemma:2b' not found" in r.err
    r = cli.ok("ollama", "cp", "llama3.2", "llama-backup")
    assert r.out == f"copied llama3.2 to llama-backup on whisper ({double.url})\n"
    r = cli("ollama", "cp", "nosuch", "x")
    assert r.rc == 3 and 'model "nosuch" not found' in r.err
    double.fail("/api/copy", 500, "disk full")
    r = cli("ollama", "cp", "llama3.2", "y")
    assert r.rc == 1 and f"ollama at {double.url} (target whisper) answered HTTP 500" in r.err


def test_create_from_a_file_and_stdin(cli, double, tmp_path):
    mf = tmp_path / "Modelfile"
    mf.write_text("FROM llama3.2\nPARAMETER temperature 0.6\nSYSTEM You write requirements.\n")
    r = cli.ok("ollama", "create", "requirements-agent", "-f", str(mf))
    assert r.out == "created requirements-agent on whisper (ollama 0.12.6, json request): success\n"
    assert r.err.splitlines()[-1] == "success"
    assert double.creates[-1] == {"model": "requirements-agent", "from": "llama3.2", "stream": True,
                                  "parameters": {"temperature": 0.6}, "system": "You write requirements."}
    j = cli.ok("--json", "ollama", "create", "b2", "--file", "-", input="FROM gemma:2b\nPARAMETER mirostat 2\n").json()
    assert j["api"] == "json" and j["warnings"] == ["line 2: parameter mirostat is deprecated and was dropped"]
    assert double.creates[-1] == {"model": "b2", "from": "gemma:2b", "stream": True}


def test_create_errors(cli, double, tmp_path):
    mf = tmp_path / "Modelfile"
    mf.write_text("FROM llama3.2\nPARAMETER warmth 1\n")
    r = cli("ollama", "create", "x", "-f", str(mf))
    assert r.rc == 2 and r.err == "homelab: modelfile: line 2: unknown parameter 'warmth'\n"
    r = cli("ollama", "create", "x", "-f", str(tmp_path / "missing"))
    assert r.rc == 1 and "cannot read" in r.err
    r = cli("ollama", "create", "x")
    assert r.rc == 2 and "usage: homelab ollama create NAME -f MODELFILE" in r.err
    assert double.creates == []


def test_create_on_a_legacy_server(cli):
    with OllamaDouble(version="0.5.4") as old:
        cli.ok("services", "set", "ollama", "--url", old.url)
        r = cli.ok("ollama", "create", "agent", "-f", "-", input="FROM gemma:2b\nSYSTEM hi\n")
        assert r.out == "created agent on whisper (ollama 0.5.4, modelfile request): success\n"
        assert old.creates == [{"model": "agent", "name": "agent", "modelfile": "FROM gemma:2b\nSYSTEM hi\n",
                                "stream": True}]


def test_usage(cli):
    r = cli("ollama", "show")
    assert r.rc == 2 and "usage: homelab ollama show MODEL" in r.err
    r = cli("ollama", "frobnicate")
    assert r.rc == 2 and "unknown subcommand 'ollama frobnicate'" in r.err
    r = cli.ok("ollama", "--help")
    assert "homelab ollama pull MODEL [--target VM]" in r.out


def test_verbose_pull_logs_its_stages(cli, double):
    r = cli.ok("-v", "--json", "ollama", "pull", "gemma:7b")
    assert r.json()["status"] == "success"
    logs = [l for l in r.err.splitlines() if l.startswith("ollama: ")]
    assert logs[0].startswith("ollama: info: ollama_pull on whisper (http://127.0.0.1:"), r.err
    # each stage of the pull as Ollama names it, then how it ended
    assert logs[1:-1] == [f"ollama: info: pull of gemma:7b on whisper: {s}" for s in STATUSES], r.err
    assert logs[-1] == "ollama: info: ollama_pull on whisper: done", r.err
    assert not any(l.startswith("ollama: ") for l in cli.ok("--json", "ollama", "pull", "gemma:7b").err.splitlines())
