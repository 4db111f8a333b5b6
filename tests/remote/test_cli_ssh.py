"""`homelab ssh`: streaming, exit statuses, host key trust from the CLI."""
import json
import os
import subprocess
import time

from conftest import HOMELAB
from sshd_helper import fingerprint, keygen


def test_exit_status_and_streams(cli, trusted):
    r = cli("ssh", "whisper", "--", "echo out; echo err >&2; exit 5")
    assert (r.rc, r.out, r.err) == (5, "out\n", "err\n")
    r = cli("ssh", "whisper", "printf", "'%s-%s'", "a", "b")   # words joined by spaces, as ssh does
    assert (r.rc, r.out) == (0, "a-b")


def test_output_streams_as_it_comes(cli, trusted):
    p = subprocess.Popen([HOMELAB, "--db", cli.db, "ssh", "whisper", "--", "echo first; sleep 3; echo second"],
                         stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
    assert p.stdout.readline() == "first\n"
    t_first = time.monotonic()
    assert p.stdout.readline() == "second\n"
    # the first line came as it was printed, not with the rest at the end
    assert time.monotonic() - t_first > 2.0
    assert p.wait(20) == 0


def test_timeout_and_signal_exit_255(cli, trusted):
    r = cli("ssh", "whisper", "--timeout-s", "1", "--", "sleep 30")
    assert r.rc == 255 and "timed out after 1.0 s" in r.err
    r = cli("ssh", "whisper", "--", "kill -KILL $$")
    assert r.rc == 255 and "killed by signal KILL" in r.err


def test_unknown_target_exit_3(cli, trusted):
    r = cli("ssh", "nosuch", "--", "true")
    assert r.rc == 3 and "target 'nosuch'" in r.err
    cli.ok("vms", "add", "noip")
    r = cli("ssh", "noip", "--", "true")
    assert r.rc == 3 and "no IP" in r.err


def test_cannot_run_exit_255(cli, known_hosts, sshd, tmp_path):
    r = cli("ssh", "whisper", "--", f"touch {tmp_path}/ran")
    assert r.rc == 255 and "is not known" in r.err and sshd.host_fingerprint() in r.err
    assert not (tmp_path / "ran").exists()


def test_trust_needs_yes_off_a_terminal(cli, known_hosts, sshd):
    r = cli("ssh", "trust", "whisper")
    assert r.rc == 1 and "--yes" in r.err and sshd.host_fingerprint() in r.out
    assert known_hosts.read_text() == ""
    r = cli.ok("ssh", "trust", "whisper", "--yes")
    assert sshd.host_fingerprint() in r.out and "trusted whisper" in r.out
    assert known_hosts.read_text() == sshd.known_hosts_line()
    assert cli.ok("ssh", "whisper", "--", "echo in").out == "in\n"
    r = cli.ok("ssh", "trust", "whisper", "--yes")
    assert "already trusted" in r.out and known_hosts.read_text() == sshd.known_hosts_line()


def test_trust_into_a_missing_directory(cli, sshd, tmp_path, monkeypatch):
    path = tmp_path / "new" / "known_hosts"
    monkeypatch.setenv("HOMELAB_KNOWN_HOSTS", str(path))
    cli.ok("ssh", "trust", "whisper", "--yes")
    assert path.read_text() == sshd.known_hosts_line()


def test_trust_a_changed_key_only_with_replace(cli, known_hosts, sshd, tmp_path):
    other = keygen(tmp_path / "old_key")
    key = open(str(other) + ".pub").read().split()
    keep = f"# mine\nexample.invalid {key[0]} {key[1]}\n"
    known_hosts.write_text(keep + f"[127.0.0.1]:{sshd.port} {key[0]} {key[1]}\n")
    before = known_hosts.read_text()
    r = cli("ssh", "trust", "whisper", "--yes")
    assert r.rc == 1 and "HOST KEY CHANGED" in r.err and "--replace" in r.err
    assert fingerprint(str(other) + ".pub") in r.err and sshd.host_fingerprint() in r.err
    assert known_hosts.read_text() == before
    r = cli.ok("ssh", "trust", "whisper", "--replace", "--yes")
    assert "replaced the key of whisper" in r.out
    assert known_hosts.read_text() == keep + sshd.known_hosts_line()
    assert cli.ok("ssh", "whisper", "--", "echo ok").out == "ok\n"


def test_trust_replaces_a_hashed_entry(cli, known_hosts, sshd, tmp_path):
    other = keygen(tmp_path / "old_key")
    key = open(str(other) + ".pub").read().split()
    tmp = tmp_path / "h"
    tmp.write_text(f"[127.0.0.1]:{sshd.port} {key[0]} {key[1]}\n")
    subprocess.run(["ssh-keygen", "-q", "-H", "-f", str(tmp)], check=True, capture_output=True)
    known_hosts.write_text(tmp.read_text())
    assert known_hosts.read_text().startswith("|1|")
    cli.ok("ssh", "trust", "whisper", "--replace", "--yes")
    assert known_hosts.read_text() == sshd.known_hosts_line()


def test_forget(cli, trusted):
    r = cli.ok("ssh", "forget", "whisper")
    assert "closed 0 kept sessions to whisper" in r.out
    assert cli("ssh", "forget", "nosuch").rc == 3


def test_usage(cli):
    assert cli("ssh", "whisper").rc == 2
    assert cli("ssh", "whisper", "--timeout-s", "abc", "--", "true").rc == 2
    assert "ssh trust TARGET" in cli.ok("ssh", "--help").out


def _on_a_terminal(cli, answer, *args):
    """Run homelab on a pseudo-terminal, answer its question, return all it printed."""
    import pty
    import select
    pid, fd = pty.fork()
    if pid == 0:
        os.execvpe(HOMELAB, [HOMELAB, "--db", cli.db] + [str(a) for a in args], dict(os.environ))
    out, answered = b"", False
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        r, _, _ = select.select([fd], [], [], 0.2)
        if r:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
        if not answered and b"[y/N]" in out:
            os.write(fd, answer)
            answered = True
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(status), out.decode(errors="replace")


def test_trust_asks_on_a_terminal(cli, known_hosts, sshd):
    rc, out = _on_a_terminal(cli, b"n\n", "ssh", "trust", "whisper")
    assert rc == 1 and f"trust ssh-ed25519 key {sshd.host_fingerprint()} for whisper? [y/N]" in out, out
    assert "not confirmed; nothing changed" in out and known_hosts.read_text() == ""
    rc, out = _on_a_terminal(cli, b"y\n", "ssh", "trust", "whisper")
    assert rc == 0 and "trusted whisper" in out, out
    assert known_hosts.read_text() == sshd.known_hosts_line()


def test_verbose_shows_the_command_and_its_exit_status(cli, trusted):
    r = cli("-v", "--json", "--yes", "tools", "call", "whisper_ssh_command", "target=whisper",
            "command=echo hi; exit 3")
    assert r.rc == 0 and json.loads(r.out)["exit_status"] == 3 and json.loads(r.out)["stdout"] == "hi\n"
    lines = [l for l in r.err.splitlines() if l.startswith("ssh: ")]
    assert lines[0] == "ssh: info: running on whisper: echo hi; exit 3", r.err
    assert lines[-1].startswith("ssh: warning: whisper: exit status 3 in "), r.err
    r = cli("--json", "--yes", "tools", "call", "whisper_ssh_command", "target=whisper", "command=true")
    assert r.rc == 0 and "ssh: " not in r.err


def test_verbose_log_lines_are_escaped(cli, trusted):
    r = cli("-v", "--json", "--yes", "tools", "call", "whisper_ssh_command", "target=whisper",
            "command=true '\x1b]0;owned\x07\x1b[2J\u009b31m'")
    assert r.rc == 0, r
    line = next(l for l in r.err.splitlines() if l.startswith("ssh: info: running on whisper: true "))
    assert not any(ord(ch) < 0x20 or 0x7f <= ord(ch) < 0xa0 for ch in line), ascii(line)

