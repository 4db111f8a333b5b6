"""`homelab tokens ...`: API tokens for homelab-mcpd from the shell."""
import os
import re
import sqlite3

TOKEN = re.compile(r"^hlt_[a-z0-9]{8}_[A-Za-z0-9_-]{43}$")


def rows(db, sql):
    con = sqlite3.connect(db)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_create_prints_the_token_once(demo):
    r = demo.ok("tokens", "create", "webui", "--scope", "inventory:read", "--scope", "credentials:read ollama:*")
    token = r.out.strip()
    assert TOKEN.match(token), r
    assert r.out == token + "\n"  # stdout holds the token only
    assert "only time the token is shown" in r.err
    assert "scopes inventory:read,credentials:read,ollama:*" in r.err and token not in r.err
    # never again: not in the list, not in the database, not in the audit log
    listed = demo.ok("--json", "tokens", "list")
    assert token not in listed.out and token[13:] not in listed.out
    with open(demo.db, "rb") as f:
        data = f.read()
    wal = demo.db + "-wal"
    if os.path.exists(wal):
        with open(wal, "rb") as f:
            data += f.read()
    assert token.encode() not in data and token[13:].encode() not in data
    audit = demo.ok("--json", "audit", "list", "--action", "token_create").json()
    assert token[13:] not in str(audit)
    assert rows(demo.db, "SELECT id, name, scopes, revoked FROM api_tokens") == [
        (token[4:12], "webui", "inventory:read,credentials:read,ollama:*", 0)]


def test_create_json(demo):
    r = demo.ok("--json", "tokens", "create", "claude", "--scope", "*", "--expires-days", "30")
    got = r.json()
    assert set(got) >= {"name", "id", "token", "scopes"}
    assert got["name"] == "claude" and got["scopes"] == "*"
    assert TOKEN.match(got["token"]) and got["token"][4:12] == got["id"]
    assert re.match(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$", got["expires"])
    assert "only time the token is shown" in r.err


def test_list(demo):
    assert "(no tokens)" in demo.ok("tokens", "list").out
    demo.ok("tokens", "create", "b-token", "--scope", "ssh:exec")
    demo.ok("tokens", "create", "a-token", "--scope", "inventory:read", "--expires-days", "1")
    listed = demo.ok("--json", "tokens", "list").json()
    assert listed["count"] == 2
    names = [t["name"] for t in listed["tokens"]]
    assert names == ["a-token", "b-token"]
    first = listed["tokens"][0]
    assert set(first) == {"name", "id", "scopes", "status", "created", "last_used", "expires"}
    assert first["status"] == "active" and first["last_used"] is None and first["expires"]
    assert listed["tokens"][1]["expires"] is None
    table = demo.ok("tokens", "list").out
    assert "NAME" in table and "STATUS" in table and "a-token" in table and "ssh:exec" in table


def test_revoke_by_name_and_id(demo):
    demo.ok("tokens", "create", "one", "--scope", "inventory:read")
    two = demo.ok("--json", "tokens", "create", "two", "--scope", "inventory:read").json()
    assert demo.ok("tokens", "revoke", "one").out == "revoked token one\n"
    assert demo.ok("--json", "tokens", "revoke", two["id"]).json() == {"revoked": two["id"]}
    statuses = {t["name"]: t["status"] for t in demo.ok("--json", "tokens", "list").json()["tokens"]}
    assert statuses == {"one": "revoked", "two": "revoked"}
    r = demo("tokens", "revoke", "one")
    assert r.rc == 3 and "API token 'one' is already revoked" in r.err
    r = demo("tokens", "revoke", "nosuch")
    assert r.rc == 3 and "no API token has the name or id 'nosuch'" in r.err
    # the token itself is refused and never echoed
    r = demo("tokens", "revoke", two["token"])
    assert r.rc == 2 and "not the token itself" in r.err and two["token"][13:] not in r.err
    # the name can be used again
    demo.ok("tokens", "create", "one", "--scope", "inventory:read")
    actions = [e["action"] for e in demo.ok("--json", "audit", "list").json()["entries"]]
    assert actions.count("token_create") == 3 and actions.count("token_revoke") == 2
    demo.ok("audit", "verify")


def test_refusals(demo):
    demo.ok("tokens", "create", "dup", "--scope", "inventory:read")
    r = demo("tokens", "create", "DUP", "--scope", "inventory:read")
    assert r.rc == 1 and "API token 'DUP' already exists" in r.err and r.out == ""
    r = demo("tokens", "create", "x", "--scope", "inventory:delete")
    assert r.rc == 2 and "scopes: 'inventory:delete' is not a scope" in r.err and r.out == ""
    r = demo("tokens", "create", "x")
    assert r.rc == 2 and "give at least one --scope" in r.err
    r = demo("tokens", "create", "bad name", "--scope", "*")
    assert r.rc == 2 and "name: 'bad name' may contain only" in r.err
    for days in ("0", "-1", "x", "36501"):
        r = demo("tokens", "create", "x", "--scope", "*", "--expires-days", days)
        assert r.rc == 2 and "--expires-days" in r.err, (days, r)
    r = demo("tokens", "create", "--scope", "*")
    assert r.rc == 2 and "usage: homelab tokens create NAME" in r.err
    r = demo("tokens", "frobnicate")
    assert r.rc == 2 and "unknown subcommand 'tokens frobnicate'" in r.err
    assert demo("tokens").rc == 2
    assert "tokens create NAME --scope S" in demo.ok("tokens", "--help").out
    assert "tokens" in demo.ok("--help").out
    assert rows(demo.db, "SELECT name FROM api_tokens") == [("dup",)]


def test_read_only_database(demo):
    demo.ok("tokens", "create", "ci", "--scope", "inventory:read")
    os.chmod(demo.db, 0o444)
    try:
        assert demo.ok("--json", "tokens", "list").json()["count"] == 1
        r = demo("tokens", "create", "new", "--scope", "*")
        assert r.rc == 1 and "read-only" in r.err and r.out == ""
        r = demo("tokens", "revoke", "ci")
        assert r.rc == 1 and "read-only" in r.err
    finally:
        os.chmod(demo.db, 0o644)
