"""whisper_ssh_command against a real sshd on loopback: output, exit status,
signals, timeout (the remote process is gone), output cap, UTF-8, session
reuse (handshakes counted in sshd's log), threads, a server that dies, the
audit log first (fail-closed), and host keys."""
import os
import sqlite3
import subprocess
import threading
import time

import pytest

import homelab
from conftest import Cli
from sshd_helper import Sshd, fingerprint, keygen


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[1][0] != "Z"
    except FileNotFoundError:
        return False


def wait_gone(pid, seconds=10):
    deadline = time.monotonic() + seconds
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not alive(pid)


def test_stdout_stderr_exit_status(lab):
    r = lab.call("whisper_ssh_command", command="echo out; echo err >&2; exit 3")
    assert r["target"] == "whisper"
    assert r["command"] == "echo out; echo err >&2; exit 3"
    assert (r["stdout"], r["stderr"], r["exit_status"], r["signal"]) == ("out\n", "err\n", 3, None)
    assert r["timed_out"] is False and r["truncated"] is False and r["invalid_utf8"] is False
    assert r["duration_ms"] > 0


def test_generated_python_method(lab):
    r = lab.whisper_ssh_command(command="printf %s hello", target="101")
    assert (r["stdout"], r["exit_status"]) == ("hello", 0)


def test_signal_reported(lab):
    r = lab.call("whisper_ssh_command", command="kill -TERM $$")
    assert r["exit_status"] is None and r["signal"] == "TERM"


def test_stderr_that_looks_like_nothing_special_is_kept(lab):
    # the library takes only its own pid line off stderr
    r = lab.call("whisper_ssh_command", command="printf 'homelab-pgid 5\\n' >&2; printf '\\036x\\n' >&2")
    assert r["stderr"] == "homelab-pgid 5\n\x1ex\n"


@pytest.mark.parametrize("command", [
    "echo $$ > {pidfile}; exec sleep 100",            # the command itself
    "echo $$ > {pidfile}; sleep 100; echo never",     # a child of the shell
    "sh -c 'echo $$ > {pidfile}; sleep 100' & wait",  # a grandchild in the background
])
def test_timeout_ends_the_remote_process(lab, tmp_path, command):
    pidfile = tmp_path / "pid"
    t0 = time.monotonic()
    r = lab.call("whisper_ssh_command", command=command.format(pidfile=pidfile), timeout_s=1)
    assert time.monotonic() - t0 < 15
    assert r["timed_out"] is True and r["exit_status"] is None
    assert "never" not in r["stdout"]
    pid = int(pidfile.read_text())
    assert wait_gone(pid), f"remote process {pid} still runs after the timeout"


def test_timeout_over_the_limit_is_refused(lab, tmp_path, monkeypatch):
    monkeypatch.setenv("HOMELAB_SSH_MAX_TIMEOUT_S", "5")
    with pytest.raises(homelab.InvalidArgumentError, match="timeout_s"):
        lab.call("whisper_ssh_command", command=f"touch {tmp_path}/ran", timeout_s=6)
    assert not (tmp_path / "ran").exists()


def test_output_cap_reported(lab):
    r = lab.call("whisper_ssh_command", command="head -c 3000000 /dev/zero | tr '\\0' a; echo e >&2")
    assert len(r["stdout"]) == 1024 * 1024 and set(r["stdout"]) == {"a"}
    assert r["truncated"] is True and r["stdout_truncated"] is True and r["stderr_truncated"] is False
    assert r["stderr"] == "e\n" and r["exit_status"] == 0


def test_invalid_utf8_replaced_and_reported(lab):
    r = lab.call("whisper_ssh_command", command="printf 'a\\377b\\000c'")
    assert r["stdout"] == "a\ufffdb\x00c" and r["invalid_utf8"] is True
    r = lab.call("whisper_ssh_command", command="printf 'caf\\303\\251'")
    assert r["stdout"] == "café" and r["invalid_utf8"] is False


def test_nul_in_command_refused(lab, tmp_path):
    with pytest.raises(homelab.InvalidArgumentError, match="NUL"):
        lab.call("whisper_ssh_command", command=f"touch {tmp_path}/a\x00b")


def test_one_handshake_for_twenty_commands(lab, sshd):
    lab.call("whisper_ssh_command", command="true")  # a kept session exists now
    before = sshd.handshakes()
    for i in range(20):
        assert lab.call("whisper_ssh_command", command=f"echo {i}")["stdout"] == f"{i}\n"
    assert sshd.handshakes() == before


def test_four_threads_on_one_target(db, trusted, sshd):
    errors, results = [], {}

    def worker(n):
        try:
            with homelab.Homelab(db) as hl:
                for i in range(5):
                    r = hl.call("whisper_ssh_command", command=f"sleep 0.1; echo {n}-{i}")
                    results[(n, i)] = r["stdout"]
        except Exception as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert results == {(n, i): f"{n}-{i}\n" for n in range(4) for i in range(5)}


def own_server(tmp_path, sshd):
    """A server of the test's own (the shared one stays up), same user key."""
    server = Sshd(tmp_path / "own")
    server.authorize(str(sshd.user_key) + ".pub")
    return server


def test_server_killed_mid_command_then_back(tmp_path, db, trusted, sshd):
    server = own_server(tmp_path, sshd)
    server.start()
    Cli(db).ok("vms", "set", "whisper", "--ssh-port", server.port)
    trusted.write_text(server.known_hosts_line())
    try:
        with homelab.Homelab(db) as hl:
            assert hl.call("whisper_ssh_command", command="echo up")["stdout"] == "up\n"
            box = {}

            def run():
                try:
                    box["r"] = hl.call("whisper_ssh_command", command="sleep 30")
                except homelab.HomelabError as e:
                    box["e"] = e

            t = threading.Thread(target=run)
            t0 = time.monotonic()
            t.start()
            time.sleep(0.5)
            server.kill_all()
            t.join(25)
            assert not t.is_alive(), "the call hangs after the server died"
            assert time.monotonic() - t0 < 25
            assert isinstance(box.get("e"), homelab.UnreachableError), box
            assert "connection was lost" in str(box["e"])
            # down: a clear error, quickly
            with pytest.raises(homelab.UnreachableError, match="cannot connect to whisper"):
                hl.call("whisper_ssh_command", command="echo down")
            server.start()
            assert hl.call("whisper_ssh_command", command="echo back")["stdout"] == "back\n"
    finally:
        server.stop()


def test_kept_session_that_died_is_replaced_transparently(tmp_path, db, trusted, sshd):
    server = own_server(tmp_path, sshd)
    server.start()
    Cli(db).ok("vms", "set", "whisper", "--ssh-port", server.port)
    trusted.write_text(server.known_hosts_line())
    try:
        with homelab.Homelab(db) as hl:
            assert hl.call("whisper_ssh_command", command="echo 1")["stdout"] == "1\n"
            server.restart()  # the kept session's connection is gone
            assert hl.call("whisper_ssh_command", command="echo 2")["stdout"] == "2\n"
            assert server.handshakes() == 2  # the first session, and one new one (the log appends)
    finally:
        server.stop()


def test_audit_rows_before_and_after(lab, db):
    lab.call("whisper_ssh_command", command="exit 7")
    con = sqlite3.connect(db)
    rows = con.execute("SELECT action, result, target_type, target_id, details FROM audit_log "
                       "WHERE action = 'ssh_command' ORDER BY rowid").fetchall()
    con.close()
    assert rows[-2][:4] == ("ssh_command", "started", "vm", "101") and rows[-2][4].endswith(": exit 7")
    assert rows[-1][:4] == ("ssh_command", "failed", "vm", "101") and "exit_status=7" in rows[-1][4]


def test_read_only_audit_log_nothing_runs(db, trusted, tmp_path):
    with homelab.Homelab(db, readonly=True) as hl:
        with pytest.raises(homelab.HomelabError, match="audit log could not be written"):
            hl.call("whisper_ssh_command", command=f"touch {tmp_path}/ran")
    time.sleep(0.3)
    assert not (tmp_path / "ran").exists()


def test_locked_audit_log_nothing_runs(db, trusted, tmp_path):
    audit = tmp_path / "audit.db"
    with homelab.Homelab(db, audit_db_path=str(audit)) as hl:
        hl.call("whisper_ssh_command", command="true")  # the log exists
        locker = sqlite3.connect(str(audit), isolation_level=None)
        locker.execute("BEGIN EXCLUSIVE")
        try:
            with pytest.raises(homelab.HomelabError, match="audit log could not be written"):
                hl.call("whisper_ssh_command", command=f"touch {tmp_path}/ran")
        finally:
            locker.execute("ROLLBACK")
            locker.close()
    assert not (tmp_path / "ran").exists()


def test_progress_lines_and_stop(lab, tmp_path):
    seen = []
    r = lab.call("whisper_ssh_command", command="for i in 1 2 3; do echo line$i; sleep 0.2; done",
                 progress=lambda p: seen.append(p.message))
    assert r["stdout"] == "line1\nline2\nline3\n"
    assert seen == ["line1", "line2", "line3"]

    class Stop(Exception):
        pass

    def stop(p):
        raise Stop()
    pidfile = tmp_path / "pid"
    with pytest.raises(Stop):
        lab.call("whisper_ssh_command", command=f"echo $$ > {pidfile}; echo first; sleep 100", progress=stop)
    assert wait_gone(int(pidfile.read_text()))


def test_unknown_target_and_no_ip(lab, cli):
    with pytest.raises(homelab.NotFoundError, match="target 'nosuch'"):
        lab.call("whisper_ssh_command", command="true", target="nosuch")
    cli.ok("vms", "add", "noip")
    with pytest.raises(homelab.InvalidArgumentError, match="target 'noip'.*no IP"):
        lab.call("whisper_ssh_command", command="true", target="noip")


def test_default_target_from_environment(lab, cli, sshd, monkeypatch):
    cli.ok("vms", "set", "whisper", "--ip", "")
    cli.ok("vms", "add", "other", "--ip", "127.0.0.1", "--ssh-port", sshd.port, "--ssh-user", "root")
    monkeypatch.setenv("HOMELAB_DEFAULT_TARGET", "other")
    assert lab.call("whisper_ssh_command", command="echo x")["target"] == "other"
    monkeypatch.delenv("HOMELAB_DEFAULT_TARGET")
    with pytest.raises(homelab.InvalidArgumentError, match="target 'whisper'"):
        lab.call("whisper_ssh_command", command="echo x")


# ------------------------------------------------------------- host keys ---

def test_unknown_host_key_refused_with_fingerprint(db, known_hosts, sshd, tmp_path):
    with homelab.Homelab(db) as hl:
        with pytest.raises(homelab.AuthError) as e:
            hl.call("whisper_ssh_command", command=f"touch {tmp_path}/ran")
    msg = str(e.value)
    assert "is not known" in msg and sshd.host_fingerprint() in msg
    assert "homelab ssh trust whisper" in msg
    assert not (tmp_path / "ran").exists()


def test_changed_host_key_names_both_fingerprints(db, known_hosts, sshd, tmp_path):
    other = keygen(tmp_path / "other_host_key")
    key = open(str(other) + ".pub").read().split()
    known_hosts.write_text(f"[127.0.0.1]:{sshd.port} {key[0]} {key[1]}\n")
    with homelab.Homelab(db) as hl:
        with pytest.raises(homelab.AuthError) as e:
            hl.call("whisper_ssh_command", command=f"touch {tmp_path}/ran")
    msg = str(e.value)
    assert "HOST KEY CHANGED" in msg
    assert fingerprint(str(other) + ".pub") in msg and sshd.host_fingerprint() in msg
    assert "--replace" in msg
    assert not (tmp_path / "ran").exists()


def test_changed_key_type_is_refused_too(db, known_hosts, sshd, tmp_path):
    other = keygen(tmp_path / "ecdsa_key", kind="ecdsa")
    key = open(str(other) + ".pub").read().split()
    known_hosts.write_text(f"[127.0.0.1]:{sshd.port} {key[0]} {key[1]}\n")
    with homelab.Homelab(db) as hl:
        with pytest.raises(homelab.AuthError, match="HOST KEY CHANGED"):
            hl.call("whisper_ssh_command", command="true")


def test_hashed_known_hosts_entry_accepted(db, known_hosts, sshd):
    line = sshd.known_hosts_line(hashed=True)
    assert line.startswith("|1|")
    known_hosts.write_text("# a comment\n\n" + line)
    with homelab.Homelab(db) as hl:
        assert hl.call("whisper_ssh_command", command="echo ok")["stdout"] == "ok\n"


def test_entry_for_another_port_does_not_count(db, known_hosts, sshd):
    # the same key filed for port 22 (plain 127.0.0.1) is not a key for [127.0.0.1]:port
    key = sshd.host_pub.read_text().split()
    known_hosts.write_text(f"127.0.0.1 {key[0]} {key[1]}\n[127.0.0.1]:{sshd.port + 1} {key[0]} {key[1]}\n")
    with homelab.Homelab(db) as hl:
        with pytest.raises(homelab.AuthError, match="is not known"):
            hl.call("whisper_ssh_command", command="true")


def test_ip_that_is_not_an_address_is_refused(lab, db):
    # a legacy row may hold a name: it is never looked up in DNS
    con = sqlite3.connect(db)
    con.execute("UPDATE virtual_machines SET ip = 'example.invalid' WHERE name = 'whisper'")
    con.commit()
    con.close()
    with pytest.raises(homelab.InvalidArgumentError, match="not an IP address"):
        lab.call("whisper_ssh_command", command="true")


# ------------------------------------------------------------ credentials ---

@pytest.fixture
def vault_lab(db, trusted, sshd, tmp_path, monkeypatch):
    """whisper's credentials in the vault: key auth with an encrypted key, its passphrase stored."""
    key = homelab.generate_key()
    monkeypatch.setenv("HOMELAB_DB_KEY", key)
    monkeypatch.delenv("HOMELAB_SSH_KEY")   # only the credentials can log in
    priv = keygen(tmp_path / "vm_key", passphrase="correct horse")
    sshd.authorize(str(priv) + ".pub")
    Cli(db).ok("creds", "set", "vm:whisper", "--user", "root", "--key-path", priv, "--auth-type", "key",
               "--password", input="correct horse\n")
    yield db, key, priv
    monkeypatch.delenv("HOMELAB_DB_KEY")


def test_login_with_vault_credentials(vault_lab):
    db, key, _ = vault_lab
    with homelab.Homelab(db, key=key) as hl:
        hl.call("whisper_ssh_command", command="true")  # a fresh pool key (new credentials): one login
        assert hl.call("whisper_ssh_command", command="whoami")["stdout"] == "root\n"
    con = sqlite3.connect(db)
    reads = con.execute("SELECT result, target_id FROM audit_log WHERE action = 'credential_read'").fetchall()
    con.close()
    assert reads and all(r[0] == "granted" for r in reads)


def test_wrong_passphrase_is_named_not_shown(vault_lab, tmp_path):
    db, key, priv = vault_lab
    Cli(db).ok("creds", "set", "vm:whisper", "--password", input="wrong horse\n")
    with homelab.Homelab(db, key=key) as hl:
        with pytest.raises(homelab.AuthError) as e:
            hl.call("whisper_ssh_command", command=f"touch {tmp_path}/ran")
    msg = str(e.value)
    assert "key (credentials)" in msg and str(priv) in msg and "passphrase" in msg
    assert "wrong horse" not in msg and "correct horse" not in msg
    assert not (tmp_path / "ran").exists()


def test_locked_vault_runs_nothing(vault_lab, tmp_path, monkeypatch):
    db, _, _ = vault_lab
    monkeypatch.setenv("HOMELAB_DB_KEY", "")
    with homelab.Homelab(db) as hl:
        with pytest.raises(homelab.VaultLockedError):
            hl.call("whisper_ssh_command", command=f"touch {tmp_path}/ran")
    assert not (tmp_path / "ran").exists()


def test_credentials_without_a_secret_need_no_vault(db, trusted, sshd, tmp_path, monkeypatch):
    """A key path the Python server stored (no password, nothing sealed it)
    is used with the vault locked: there is no secret to read and no seal to
    check."""
    monkeypatch.delenv("HOMELAB_SSH_KEY")
    priv = keygen(tmp_path / "plain_key")
    sshd.authorize(str(priv) + ".pub")
    monkeypatch.setenv("HOMELAB_DB_KEY", "")
    con = sqlite3.connect(db)
    con.execute("INSERT INTO credentials (target_type, target_id, username, password_encrypted, ssh_key_path, "
                "auth_type) VALUES ('vm', 101, 'root', NULL, ?, 'key')", (str(priv),))
    con.commit()
    con.close()
    with homelab.Homelab(db) as hl:
        assert hl.call("whisper_ssh_command", command="echo k")["stdout"] == "k\n"


def test_sealed_credentials_are_checked_before_a_login(db, trusted, sshd, tmp_path, monkeypatch):
    """Issue 8, defect 11, where it matters: the user name and key path of a
    sealed row decide where a login goes. Changed with plain SQL, they are
    refused before anything connects; with the vault locked they cannot be
    checked, so they are not used either."""
    monkeypatch.delenv("HOMELAB_SSH_KEY")
    key = homelab.generate_key()
    priv = keygen(tmp_path / "sealed_key")
    other = keygen(tmp_path / "attacker_key")
    sshd.authorize(str(priv) + ".pub")
    sshd.authorize(str(other) + ".pub")
    Cli(db).ok("creds", "set", "vm:whisper", "--user", "root", "--key-path", priv, env={"HOMELAB_DB_KEY": key})
    with homelab.Homelab(db, key=key) as hl:
        assert hl.call("whisper_ssh_command", command="echo sealed")["stdout"] == "sealed\n"
    before = sshd.handshakes()
    con = sqlite3.connect(db)
    con.execute("UPDATE credentials SET ssh_key_path = ? WHERE target_type = 'vm'", (str(other),))
    con.commit()
    con.close()
    with homelab.Homelab(db, key=key) as hl:
        with pytest.raises(homelab.IntegrityError):
            hl.call("whisper_ssh_command", command=f"touch {tmp_path}/ran")
    monkeypatch.setenv("HOMELAB_DB_KEY", "")
    with homelab.Homelab(db) as hl:
        with pytest.raises(homelab.VaultLockedError, match="sealed in the vault and cannot be checked"):
            hl.call("whisper_ssh_command", command=f"touch {tmp_path}/ran")
    assert not (tmp_path / "ran").exists()
    assert sshd.handshakes() == before  # nothing connected


def test_no_method_works_says_what_was_tried(db, trusted, tmp_path, monkeypatch):
    monkeypatch.setenv("HOMELAB_SSH_KEY", str(tmp_path / "missing_key"))
    with homelab.Homelab(db) as hl:
        with pytest.raises(homelab.AuthError) as e:
            hl.call("whisper_ssh_command", command="true")
    msg = str(e.value)
    assert "login to whisper as root@127.0.0.1" in msg
    assert "$HOMELAB_SSH_KEY" in msg and "missing_key" in msg and "ssh-agent: not running" in msg
    assert "id_ed25519" in msg and "id_rsa" in msg


def test_idle_sessions_close(tmp_path, db, trusted, sshd, monkeypatch):
    server = own_server(tmp_path, sshd)
    server.start()
    Cli(db).ok("vms", "set", "whisper", "--ssh-port", server.port)
    trusted.write_text(server.known_hosts_line())
    try:
        with homelab.Homelab(db) as hl:
            hl.call("whisper_ssh_command", command="true")
            hl.call("whisper_ssh_command", command="true")
            assert server.handshakes() == 1
            assert server.connection_processes(), "no kept session"
            monkeypatch.setenv("HOMELAB_SSH_IDLE_S", "1")
            hl.call("whisper_ssh_command", command="true")  # the library reads the setting
            assert server.handshakes() == 1
            # closed by the library after a second idle, without another call
            deadline = time.monotonic() + 10
            while server.connection_processes() and time.monotonic() < deadline:
                time.sleep(0.1)
            assert not server.connection_processes(), "the idle session is still open"
            hl.call("whisper_ssh_command", command="true")
            assert server.handshakes() == 2
    finally:
        server.stop()


def test_password_credentials_refused_without_showing_it(db, trusted, monkeypatch, tmp_path):
    # the private sshd takes keys only: the password login is refused, and said so
    key = homelab.generate_key()
    monkeypatch.setenv("HOMELAB_DB_KEY", key)
    Cli(db).ok("creds", "set", "vm:whisper", "--user", "root", "--auth-type", "password", "--password",
               input="hunter2-secret\n")
    with homelab.Homelab(db, key=key) as hl:
        with pytest.raises(homelab.AuthError) as e:
            hl.call("whisper_ssh_command", command=f"touch {tmp_path}/ran")
    msg = str(e.value)
    assert "password (credentials of vm:whisper)" in msg and "hunter2" not in msg
    assert not (tmp_path / "ran").exists()
    con = sqlite3.connect(db)
    assert con.execute("SELECT count(*) FROM audit_log WHERE action = 'credential_read' AND result = 'granted'"
                       ).fetchone()[0] >= 1
    assert "hunter2" not in " ".join(r[0] or "" for r in con.execute("SELECT details FROM audit_log"))
    con.close()


def test_stdin_is_empty(lab):
    # a command that reads its input gets end-of-file at once, as with ssh -n
    t0 = time.monotonic()
    r = lab.call("whisper_ssh_command", command="cat; read x || echo eof", timeout_s=20)
    assert (r["stdout"], r["exit_status"], r["timed_out"]) == ("eof\n", 0, False)
    assert time.monotonic() - t0 < 10


def test_python_stop_event_ends_a_silent_remote_command(lab, tmp_path):
    """hl_call_options.should_stop from Python: another thread sets the
    Event, the remote process is gone and the call raises CancelledError;
    the log callback saw the command it ran."""
    pidfile = tmp_path / "pid"
    stop, seen = threading.Event(), []

    def watch():
        end = time.monotonic() + 15
        while not (pidfile.exists() and pidfile.read_text().strip()) and time.monotonic() < end:
            time.sleep(0.05)
        stop.set()
    threading.Thread(target=watch, daemon=True).start()
    with pytest.raises(homelab.CancelledError):
        lab.call("whisper_ssh_command", target="whisper", command=f"echo $$ >{pidfile}; exec sleep 600",
                 stop=stop, log=lambda *m: seen.append(m))
    t_stop = time.monotonic()
    pid = int(pidfile.read_text())
    while os.path.exists(f"/proc/{pid}") and time.monotonic() - t_stop < 3:
        time.sleep(0.05)
    assert not os.path.exists(f"/proc/{pid}"), "the remote command is still running"
    assert seen[0] == ("info", "ssh", f"running on whisper: echo $$ >{pidfile}; exec sleep 600")
    assert lab.call("whisper_ssh_command", target="whisper", command="echo again")["stdout"] == "again\n"
