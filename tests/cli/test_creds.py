"""`homelab creds ...` and `homelab audit ...`: the vault and the audit log from the shell."""
import json
import os
import sqlite3
import stat

import pytest

FIXTURES = os.environ.get("HOMELAB_FIXTURES") or os.path.join(os.path.dirname(__file__), "..", "fixtures")


def fernet_fixture():
    """(key a, {name: (plaintext bytes, token)}) from tests/fixtures/fernet (made by Python's Fernet)."""
    keys = {}
    with open(os.path.join(FIXTURES, "fernet", "keys.txt")) as f:
        for line in f:
            if line.strip() and not line.startswith("#"):
                name, key = line.split()
                keys[name] = key
    tokens = {}
    with open(os.path.join(FIXTURES, "fernet", "tokens.txt")) as f:
        for line in f:
            if line.strip() and not line.startswith("#"):
                name, _key, hexplain, token = line.split()
                tokens[name] = (b"" if hexplain == "-" else bytes.fromhex(hexplain), token)
    return keys, tokens


@pytest.fixture
def key(demo):
    return demo.ok("creds", "keygen").out.strip()


@pytest.fixture
def vault(demo, key):
    """The demo inventory with a key, and whisper's password stored."""
    env = {"HOMELAB_DB_KEY": key}
    demo.ok("creds", "set", "vm:whisper", "--user", "ccpm", "--password", input="s3cret pass\n", env=env)
    return demo, env


def test_keygen(demo, tmp_path):
    k1, k2 = demo.ok("creds", "keygen").out.strip(), demo.ok("creds", "keygen").out.strip()
    assert len(k1) == 44 and k1 != k2 and k1.endswith("=")
    path = tmp_path / "vault.key"
    r = demo.ok("creds", "keygen", "--file", path)
    assert r.out == "" and f"HOMELAB_DB_KEY=file:{path}" in r.err
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert len(path.read_text().strip()) == 44
    r = demo("creds", "keygen", "--file", path)  # never overwrites a key
    assert r.rc == 1 and "File exists" in r.err


def test_set_get_list(vault):
    hl, env = vault
    r = hl.ok("--json", "creds", "get", "vm:whisper", env=env)
    got = r.json()
    assert got["password"] == "s3cret pass" and got["username"] == "ccpm" and got["target"] == "vm:whisper"
    assert "password:     s3cret pass" in hl.ok("creds", "get", "whisper", env=env).out
    listed = hl.ok("--json", "creds", "list", env=env).json()
    assert listed["count"] == 1
    assert listed["credentials"][0]["password"] == "v2"  # the format, never the password
    assert listed["credentials"][0]["sealed"] is True
    assert "s3cret" not in json.dumps(listed)
    # the database holds ciphertext only
    con = sqlite3.connect(hl.db)
    (stored,) = con.execute("SELECT password_encrypted FROM credentials").fetchone()
    con.close()
    assert stored.startswith("hl2:") and "s3cret" not in stored


def test_password_never_on_the_command_line(vault):
    hl, env = vault
    r = hl("creds", "set", "vm:harbor", "--password=hunter2", env=env)
    assert r.rc == 2 and "takes no value" in r.err
    r = hl("creds", "set", "vm:harbor", "--password", input="", env=env)
    assert r.rc == 2 and "no password on stdin" in r.err


def test_locked_without_key(vault):
    hl, _ = vault
    r = hl("creds", "get", "vm:whisper", env={"HOMELAB_DB_KEY": ""})
    assert r.rc == 1 and "vault locked" in r.err and "s3cret" not in r.out
    r = hl("creds", "set", "vm:harbor", "--password", input="x\n", env={"HOMELAB_DB_KEY": ""})
    assert r.rc == 1 and "vault locked" in r.err
    # listing needs no key
    assert hl.ok("--json", "creds", "list", env={"HOMELAB_DB_KEY": ""}).json()["count"] == 1


def test_key_file_must_be_private(vault, tmp_path):
    hl, env = vault
    path = tmp_path / "k"
    path.write_text(env["HOMELAB_DB_KEY"] + "\n")
    path.chmod(0o644)
    r = hl("creds", "get", "vm:whisper", env={"HOMELAB_DB_KEY": f"file:{path}"})
    assert r.rc == 2 and "accessible by group or others" in r.err
    assert env["HOMELAB_DB_KEY"] not in r.err
    path.chmod(0o600)
    assert hl.ok("--json", "creds", "get", "vm:whisper", env={"HOMELAB_DB_KEY": f"file:{path}"}).json()["password"]


def test_tampered_fields_fail_closed(vault):
    """username, ssh_key_path and auth_type are sealed with the password: plain SQL on them is refused."""
    hl, env = vault
    hl.ok("creds", "set", "vm:whisper", "--key-path", "/home/ccpm/.ssh/id_ed25519", env=env)
    assert hl.ok("--json", "creds", "get", "vm:whisper", env=env).json()["ssh_key_path"] == "/home/ccpm/.ssh/id_ed25519"
    for column, value in (("ssh_key_path", "/tmp/attacker_key"), ("username", "root"), ("auth_type", "key")):
        con = sqlite3.connect(hl.db)
        old = con.execute(f"SELECT {column} FROM credentials").fetchone()[0]
        con.execute(f"UPDATE credentials SET {column} = ?", (value,))
        con.commit()
        r = hl("creds", "get", "vm:whisper", env=env)
        assert r.rc == 1 and "s3cret" not in r.out + r.err, r
        assert "the row failed its integrity check: its username, ssh_key_path, auth_type, target or id were " \
               "changed outside libhomelab" in r.err
        refused = con.execute("SELECT count(*) FROM audit_log WHERE action = 'credential_read' AND "
                              "result = 'refused'").fetchone()[0]
        con.execute(f"UPDATE credentials SET {column} = ?", (old,))
        con.commit()
        con.close()
        assert refused >= 1
    assert hl.ok("--json", "creds", "get", "vm:whisper", env=env).json()["password"] == "s3cret pass"
    assert hl.ok("audit", "verify").out.startswith("audit log ")


def test_rm(vault):
    hl, env = vault
    assert hl.ok("--yes", "--json", "creds", "rm", "vm:whisper", env=env).json() == {"removed": "vm:whisper"}
    r = hl("creds", "get", "vm:whisper", env=env)
    assert r.rc == 3 and "no credentials stored for vm:whisper" in r.err


def test_rotate_key(vault, tmp_path):
    hl, env = vault
    newkey = tmp_path / "new.key"
    r = hl.ok("--yes", "creds", "rotate-key", "--write-key-file", newkey, env=env)
    assert "re-encrypted 1 credential" in r.err
    assert stat.S_IMODE(os.stat(newkey).st_mode) == 0o600
    r = hl("creds", "get", "vm:whisper", env=env)
    assert r.rc == 1 and "wrong key" in r.err
    got = hl.ok("--json", "creds", "get", "vm:whisper", env={"HOMELAB_DB_KEY": f"file:{newkey}"}).json()
    assert got["password"] == "s3cret pass"
    # a generated key is printed (before anything is re-encrypted under it)
    r = hl.ok("--yes", "creds", "rotate-key", env={"HOMELAB_DB_KEY": f"file:{newkey}"})
    printed = r.out.strip()
    assert len(printed) == 44
    assert hl.ok("--json", "creds", "get", "vm:whisper", env={"HOMELAB_DB_KEY": printed}).json()["password"]


def test_migrate_legacy_fernet(demo):
    keys, tokens = fernet_fixture()
    con = sqlite3.connect(demo.db)
    con.execute("INSERT INTO credentials (target_type, target_id, username, password_encrypted, auth_type) "
                "VALUES ('vm', 101, 'ccpm', ?, 'password')", (tokens["utf8"][1],))
    con.commit()
    con.close()
    env = {"HOMELAB_DB_KEY": keys["a"]}
    assert demo.ok("--json", "creds", "list", env=env).json()["credentials"][0]["password"] == "fernet"
    got = demo.ok("--json", "creds", "get", "vm:whisper", env=env).json()
    assert got["password"].encode() == tokens["utf8"][0]
    assert demo.ok("--json", "creds", "list", env=env).json()["credentials"][0]["sealed"] is False
    assert "sealed 1 credential" in demo.ok("creds", "migrate", env=env).out
    assert demo.ok("--json", "creds", "list", env=env).json()["credentials"][0]["sealed"] is True
    assert demo.ok("--json", "creds", "list", env=env).json()["credentials"][0]["password"] == "v2"
    assert demo.ok("--json", "creds", "get", "vm:whisper", env=env).json()["password"].encode() == tokens["utf8"][0]
    r = demo("creds", "get", "vm:whisper", env={"HOMELAB_DB_KEY": keys["b"]})
    assert r.rc == 1 and "wrong key" in r.err


def test_audit_list_and_verify(vault):
    hl, env = vault
    hl.ok("creds", "get", "vm:whisper", env=env)
    hl("creds", "get", "vm:harbor", env=env)
    entries = hl.ok("--json", "audit", "list", env=env).json()["entries"]
    assert [e["action"] for e in entries[:3]] == ["credential_read", "credential_read", "credential_set"]
    assert entries[0]["result"] == "failed" and entries[1]["result"] == "granted"
    assert entries[1]["principal"] and entries[1]["client"] == "local"
    reads = hl.ok("--json", "audit", "list", "--action", "credential_read", "--limit", "1").json()
    assert reads["count"] == 1
    assert hl.ok("--json", "audit", "list", "--since", "1h").json()["count"] == 3
    assert hl.ok("--json", "audit", "list", "--since", "2999-01-01").json()["count"] == 0
    r = hl("audit", "list", "--since", "soon")
    assert r.rc == 2 and "is not a time" in r.err
    # the CLI shows the tool's answer: same JSON as `tools call homelab_audit_list`
    assert hl.ok("--json", "audit", "list").out == hl.ok("--json", "tools", "call", "homelab_audit_list").out
    r = hl("audit", "list", "--limit", "0")
    assert r.rc == 2 and r.err == "homelab: limit: must be at least 1\n"
    ok = hl.ok("--json", "audit", "verify").json()
    assert ok["intact"] and ok["rows"] == 3 and len(ok["head_hash"]) == 64
    assert "intact, 3 rows" in hl.ok("audit", "verify").out


def test_audit_verify_names_the_altered_row(vault):
    hl, env = vault
    hl.ok("creds", "get", "vm:whisper", env=env)
    hl.ok("creds", "get", "vm:whisper", env=env)
    con = sqlite3.connect(hl.db)
    con.execute("UPDATE audit_log SET user = 'nobody' WHERE seq = 2")
    con.commit()
    con.close()
    r = hl("audit", "verify")
    assert r.rc == 1 and "audit row 2 (id 2" in r.err and "was altered" in r.err
    res = json.loads(hl("--json", "audit", "verify").out)
    assert res["intact"] is False and res["bad_seq"] == 2 and res["bad_id"] == 2


def test_audit_head_catches_a_cut_or_wiped_log(vault):
    """`audit head` prints SEQ:HASH; `audit verify --head` catches the rows cut or wiped since."""
    hl, env = vault
    for _ in range(3):
        hl.ok("creds", "get", "vm:whisper", env=env)
    head = hl.ok("audit", "head").out.strip()
    seq, mac = head.split(":")
    assert seq == "4" and len(mac) == 64
    r = hl.ok("audit", "verify", "--head", head)
    assert "intact, 4 rows, and it still holds the head given" in r.out and f"head: {head}" in r.out
    assert hl.ok("--json", "audit", "verify").json()["head"] == head
    con = sqlite3.connect(hl.db)
    # cut the last two rows and point the head at row 2: the head's MAC gives it away
    con.execute("DELETE FROM audit_log WHERE seq > 2")
    con.execute("UPDATE audit_head SET seq = 2, hash = (SELECT hash FROM audit_log WHERE seq = 2)")
    con.commit()
    r = hl("audit", "verify")
    assert r.rc == 1 and "the chain's head record (row 2) was altered: its MAC does not match" in r.err
    r = hl("audit", "head")
    assert r.rc == 1 and r.out == ""
    # a credential read is refused rather than extend a cut log
    r = hl("creds", "get", "vm:whisper", env=env)
    assert r.rc == 1 and "s3cret" not in r.out + r.err and "is damaged" in r.err
    # wiped: alone it looks new; against the head kept elsewhere it does not
    con.execute("DELETE FROM audit_log")
    con.execute("DELETE FROM audit_head")
    con.commit()
    con.close()
    assert "intact, 0 rows" in hl.ok("audit", "verify").out
    r = hl("audit", "verify", "--head", head)
    assert r.rc == 1 and "the log ends at row 0, but the head recorded elsewhere is row 4" in r.err
    r = hl("audit", "verify", "--head", "4:xyz")
    assert r.rc == 2 and "does not match the pattern" in r.err


def test_audit_row_inserted_with_sql_is_never_adopted(vault):
    hl, env = vault
    con = sqlite3.connect(hl.db)
    con.execute("INSERT INTO audit_log (action, user, details) VALUES ('credential_read', 'ghost', 'forged')")
    con.commit()
    rowid = con.execute("SELECT id FROM audit_log WHERE user = 'ghost'").fetchone()[0]
    con.close()
    hl.ok("creds", "get", "vm:whisper", env=env)        # the old code chained the row here
    r = hl("audit", "verify")
    assert r.rc == 1 and f"audit row id {rowid} (credential_read) is not in the chain: forged" in r.err


def test_terminal_escapes_never_reach_the_screen(vault):
    """A label written through the library is stored escaped; a raw one written with SQL is escaped when shown."""
    hl, env = vault
    evil = "\x1b[2J\x1b[H" + "OK all clear\r"
    r = hl("creds", "get", evil, env=env)           # refused (a control character), and audited
    assert r.rc == 2 and "\x1b" not in r.err
    con = sqlite3.connect(hl.db)
    con.execute("INSERT INTO audit_log (action, target_id, user, details) VALUES (?, ?, ?, ?)",
                ("get_credentials\x1b]0;pwned\x07", evil, "py\u202eserver", "bell\x07 C1 \u009b31m"))
    con.execute("UPDATE virtual_machines SET name = ? WHERE name = 'whisper'", (evil,))
    con.commit()
    con.close()
    for args in (("audit", "list"), ("vms", "list"), ("vms", "show", "101")):
        r = hl(*args, env=env)
        assert r.rc == 0, r
        for bad in ("\x1b", "\x07", "\r", "\u202e", "\u009b"):
            assert bad not in r.out + r.err, (args, bad, r)
    out = hl.ok("audit", "list").out
    assert "\\x1b[2J\\x1b[HOK all clear\\r" in out and "py\\u202eserver" in out and "\\u009b31m" in out
    assert "\\x1b[2J\\x1b[HOK all clear\\r" in hl.ok("vms", "list").out
    r = hl("audit", "verify")
    assert r.rc == 1 and "is not in the chain" in r.err and "\x1b" not in r.err and "\\x1b]0;pwned" in r.err
    # --json is the tool's JSON as is (JSON escapes C0 controls itself)
    assert "\x1b" not in hl.ok("--json", "audit", "list").out


def test_separate_audit_database(vault, tmp_path):
    hl, env = vault
    audit = tmp_path / "audit.db"
    hl.ok("creds", "get", "vm:whisper", env=dict(env, HOMELAB_AUDIT_DB=str(audit)))
    con = sqlite3.connect(audit)
    assert con.execute("SELECT count(*) FROM audit_log WHERE result = 'granted'").fetchone()[0] == 1
    con.close()
    assert "intact, 1 rows" in hl.ok("audit", "verify", env={"HOMELAB_AUDIT_DB": str(audit)}).out


def test_separate_audit_log_on_a_read_only_mount(vault, tmp_path):
    """HOMELAB_AUDIT_DB on a read-only mount: verify and list still work; reads are refused."""
    import shutil
    import subprocess
    import tempfile
    import unprivileged
    hl, env = vault
    audit = str(tmp_path / "audit.db")
    env = dict(env, HOMELAB_AUDIT_DB=audit)
    hl.ok("creds", "get", "vm:whisper", env=env)          # the log gets its first rows
    ro = tempfile.mkdtemp(prefix="hl-audit-ro-")
    try:
        for name in (hl.db, audit):
            shutil.copy(name, ro)
        inv, log = os.path.join(ro, os.path.basename(hl.db)), os.path.join(ro, "audit.db")
        os.chmod(inv, 0o444)
        os.chmod(log, 0o444)
        os.chmod(ro, 0o555)
        progs = unprivileged.programs()
        prefix = unprivileged.prefix() + [progs.homelab]
        # the log's key file is the copying user's (0600); the reader gets the key itself
        with open(audit + ".audit-key") as f:
            audit_key = f.read().strip()
        run_env = progs.env(dict(os.environ, HOMELAB_DB_KEY=env["HOMELAB_DB_KEY"], HOMELAB_AUDIT_DB=log,
                                 HOMELAB_AUDIT_KEY=audit_key))

        def run(*args):
            return subprocess.run(prefix + ["--db", inv] + list(args), capture_output=True, text=True,
                                  env=run_env, stdin=subprocess.DEVNULL, timeout=60, cwd="/")
        r = run("audit", "verify")
        assert r.returncode == 0 and "intact" in r.stdout, r.stderr
        r = run("--json", "audit", "list")
        assert r.returncode == 0 and json.loads(r.stdout)["entries"][0]["action"] == "credential_read", r.stderr
        r = run("creds", "get", "vm:whisper")
        assert r.returncode == 1 and "s3cret" not in r.stdout + r.stderr
        assert "audit log" in r.stderr and "read-only" in r.stderr
    finally:
        os.chmod(ro, 0o755)
        shutil.rmtree(ro)


def test_overlong_password_is_refused_not_cut(demo, key):
    env = {"HOMELAB_DB_KEY": key}
    r = demo("creds", "set", "vm:whisper", "--password", input="x" * 5000 + "\n", env=env)
    assert r.rc == 2 and "the password is longer than 4096 bytes" in r.err
    assert demo.ok("--json", "creds", "list", env=env).json()["count"] == 0
