"""`homelab completion bash|zsh` and the hidden `homelab __complete`
(issue 11): the scripts come from the command and tool tables, bash parses
them, a real bash with bash-completion completes `homelab vms show qua<TAB>`,
and cmake --install puts the script where bash-completion looks."""
import os
import re
import shutil
import subprocess

import pytest

import term
from conftest import HOMELAB

BASH_COMPLETION = "/usr/share/bash-completion/bash_completion"


@pytest.fixture
def lab(demo):
    demo.ok("vms", "add", "quasar", "--ip", "127.0.3.4")
    return demo


def complete(hl, *words):
    return hl.ok("__complete", "--", *words).out.splitlines()


def test_complete_command_names_and_kinds(lab):
    assert complete(lab, "v") == ["vms"]
    assert complete(lab, "vms", "show", "qua") == ["quasar"]
    assert complete(lab, "vms", "show", "") == ["whisper", "harbor", "sandbox", "quasar"]
    assert complete(lab, "hosts", "show", "") == ["pve"]
    assert complete(lab, "services", "show", "open") == ["open-webui"]
    assert complete(lab, "ssh", "")[:4] == ["whisper", "harbor", "sandbox", "quasar"]  # VMs first
    assert set(complete(lab, "ssh", "")[4:]) == {"trust", "forget"}
    assert complete(lab, "gpu", "q") == ["quasar"]
    assert complete(lab, "vms", "list", "--") == ["--status", "--host", "--help"]
    assert complete(lab, "vms", "list", "--host", "") == ["pve"]
    assert complete(lab, "services", "list", "--vm", "qu") == ["quasar"]
    assert complete(lab, "tools", "call", "homelab_get_v") == ["homelab_get_vm"]
    assert complete(lab, "--db", lab.db, "vms", "show", "qu") == ["quasar"]
    assert complete(lab, "ssh", "whisper", "--", "") == []  # the remote command is not ours
    assert complete(lab, "completion", "") == ["bash", "zsh"]
    # local files: the shell's own file name completion (":files")
    for words in (["--db", ""], ["ollama", "create", "bot", "-f", ""], ["creds", "keygen", "--file", "/tm"],
                  ["files", "put", "whisper", "/srv/x", "--from", ""], ["creds", "set", "vm:x", "--key-path", ""]):
        assert complete(lab, *words) == [":files"], words
    assert complete(lab, "services", "add", "x", "--health", "") == []  # a URL path, not a file
    # every tool of the library's table, and nothing else
    tools = [t["name"] for t in lab.ok("--json", "tools", "list").json()["tools"]]
    assert complete(lab, "tools", "schema", "") == tools


def test_complete_without_a_database_is_quiet(hl):
    r = hl("__complete", "--", "vms", "show", "")
    assert r.rc == 0 and r.out == "" and r.err == ""
    assert not os.path.exists(hl.db)  # never created


def test_names_with_control_characters_are_not_offered(lab):
    import sqlite3
    # a row written by another program: names that the library would refuse
    with sqlite3.connect(lab.db) as db:
        db.execute("INSERT INTO virtual_machines (vm_id, name) VALUES (900, ?)", ("bad\x1b]0;x\x07name",))
        db.execute("INSERT INTO virtual_machines (vm_id, name) VALUES (901, ?)", ("two\nlines",))
    assert len(complete(lab, "vms", "show", "")) == 4
    assert not any("\x1b" in c for c in complete(lab, "vms", "show", ""))


def test_scripts_come_from_the_tables(hl):
    bash = hl.ok("completion", "bash", db=False).out
    zsh = hl.ok("completion", "zsh", db=False).out
    groups = re.findall(r"^  ([a-z]+) ", hl.ok("--help", db=False).out.split("Commands:\n")[1].split("\n\n")[0],
                        re.M)
    tools = [t["name"] for t in hl.ok("db", "init") and hl.ok("--json", "tools", "list").json()["tools"]]
    for script in (bash, zsh):
        for g in groups:
            assert re.search(rf"\b{g}\b", script), g
        for t in tools:
            assert t in script
        assert "__complete" in script
    assert zsh.startswith("#compdef homelab\n")
    r = hl("completion", "fish", db=False)
    assert r.rc == 2 and "completion bash|zsh" in r.err


def test_bash_parses_the_script(hl, tmp_path):
    path = tmp_path / "homelab.bash"
    path.write_text(hl.ok("completion", "bash", db=False).out)
    r = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True)
    assert r.returncode == 0 and r.stderr == "", r.stderr


def bash_session(tmp_path, db, rc_extra):
    bindir = tmp_path / "bin"
    bindir.mkdir(exist_ok=True)
    if not (bindir / "homelab").exists():
        os.symlink(os.path.abspath(HOMELAB), bindir / "homelab")
    rc = tmp_path / "bashrc"
    rc.write_text(f"PS1='$ '\nexport PATH={bindir}:$PATH\nexport HOMELAB_DB_PATH={db}\n"
                  f"source {BASH_COMPLETION}\n{rc_extra}\n")
    s = term.Shell.__new__(term.Shell)
    s.pid, s.fd = term.spawn(["/bin/bash", "--noprofile", "--rcfile", str(rc), "-i"], cols=200,
                             env={"INPUTRC": "/dev/null", "XDG_DATA_HOME": str(tmp_path / "xdg"),
                                  "BASH_COMPLETION_USER_DIR": str(tmp_path / "xdg" / "bash-completion")})
    s.buf, s.status = b"", None
    s.expect(r"\$ ")
    return s


def test_bash_completes_vm_names_through_bash_completion(lab, tmp_path):
    # the file where bash-completion looks for it (loaded on first use)
    comp = tmp_path / "xdg" / "bash-completion" / "completions"
    comp.mkdir(parents=True)
    (comp / "homelab").write_text(lab.ok("completion", "bash", db=False).out)
    s = bash_session(tmp_path, lab.db, "")
    try:
        s.send("homelab vms show qua\t")
        s.expect("homelab vms show quasar ")
        s.send("\r")
        out = s.expect(r"\$ ")
        assert "name:     quasar" in out
        s.send("homelab vms sh\t")
        s.expect("homelab vms show ")
        s.send("\x15homelab serv\t")
        s.expect("homelab services ")
        s.send("\x15homelab tools call homelab_list_ho\t")
        s.expect("homelab_list_hosts ")
        s.send("\x15homelab vms list --ho\t")
        s.expect("--host ")
        s.send("\x15homelab ssh \t\t")
        out = s.expect(r"\$ homelab ssh ")
        assert "quasar" in out and "trust" in out
        (tmp_path / "keyfile-for-test").write_text("")
        s.send(f"\x15homelab creds keygen --file {tmp_path}/keyfile-f\t")
        s.expect("keyfile-for-test ")
        s.send("\x15exit\r")
        s.wait()
    finally:
        s.close()


def test_bash_eval_of_the_script(lab, tmp_path):
    s = bash_session(tmp_path, lab.db, 'eval "$(homelab completion bash)"')
    try:
        s.send("homelab gpu qu\t")
        s.expect("homelab gpu quasar ")
        s.send("\x15exit\r")
        s.wait()
    finally:
        s.close()


def test_cmake_install_puts_the_script_where_bash_completion_looks(tmp_path):
    build = os.path.dirname(os.path.abspath(HOMELAB))
    r = subprocess.run(["cmake", "--install", build, "--prefix", str(tmp_path / "p")], capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stderr
    installed = tmp_path / "p" / "share" / "bash-completion" / "completions" / "homelab"
    assert installed.read_text() == subprocess.run([HOMELAB, "completion", "bash"], capture_output=True,
                                                   text=True).stdout


def test_zsh_parses_the_script_and_completes_names(lab, tmp_path):
    fdir, zdot = tmp_path / "zfunc", tmp_path / "zdot"
    fdir.mkdir()
    zdot.mkdir()
    (fdir / "_homelab").write_text(lab.ok("completion", "zsh", db=False).out)
    r = subprocess.run(["zsh", "-n", str(fdir / "_homelab")], capture_output=True, text=True)
    assert r.returncode == 0 and r.stderr == "", r.stderr
    bindir = tmp_path / "bin"
    bindir.mkdir()
    os.symlink(os.path.abspath(HOMELAB), bindir / "homelab")
    (zdot / ".zshrc").write_text(f"PS1='%% '\nfpath=({fdir} $fpath)\nautoload -Uz compinit && compinit -u -D\n"
                                 f"export PATH={bindir}:$PATH\nexport HOMELAB_DB_PATH={lab.db}\n")
    s = term.Shell.__new__(term.Shell)
    s.pid, s.fd = term.spawn([shutil.which("zsh"), "-i"], cols=200, env={"ZDOTDIR": str(zdot)})
    s.buf, s.status = b"", None
    try:
        s.expect("% ")
        s.send("homelab vms show qua\t")
        s.expect("homelab vms show quasar")
        s.send("\x15homelab serv\t")
        s.expect("homelab services ")
        s.send("\x15homelab tools schema homelab_get_h\t")
        s.expect("homelab_get_host")
        (tmp_path / "zkeyfile-for-test").write_text("")
        s.send(f"\x15homelab creds keygen --file {tmp_path}/zkeyf\t")
        s.expect("zkeyfile-for-test")
        s.send("\x15exit\r")
        s.wait()
    finally:
        s.close()
