"""whisper_list_files, whisper_read_file, whisper_write_file over SFTP on the
private sshd: round trips, atomic replace, caps, and every escape from the
allowed roots refused with nothing read or written outside them."""
import base64
import hashlib
import os
import sqlite3
import time

import pytest

import homelab


@pytest.fixture
def root(tmp_path, cli):
    r = tmp_path / "root"
    r.mkdir()
    cli.ok("vms", "set", "whisper", "--file-root", r)
    return r


@pytest.fixture
def outside(tmp_path):
    o = tmp_path / "outside"
    o.mkdir()
    (o / "secret").write_text("top secret\n")
    return o


def snapshot(d):
    return sorted((p.name, p.read_bytes() if p.is_file() else None) for p in d.iterdir())


def test_text_round_trip(lab, root):
    text = "héllo wörld\nline 2\n"
    w = lab.call("whisper_write_file", file_path=str(root / "a.txt"), content=text)
    assert w == {"target": "whisper", "path": str(root / "a.txt"), "bytes_written": len(text.encode()),
                 "sha256": hashlib.sha256(text.encode()).hexdigest(), "created": True, "replaced": False}
    assert (root / "a.txt").read_text() == text
    r = lab.call("whisper_read_file", file_path=str(root / "a.txt"))
    assert (r["content"], r["encoding"], r["size"], r["truncated"]) == (text, "utf-8", len(text.encode()), False)
    assert r["sha256"] == hashlib.sha256(text.encode()).hexdigest()


def test_binary_round_trip_all_byte_values(lab, root):
    data = bytes(range(256)) * 3
    w = lab.call("whisper_write_file", file_path="bin.dat", content=base64.b64encode(data).decode(), encoding="base64")
    assert w["path"] == str(root / "bin.dat") and w["bytes_written"] == 768
    assert (root / "bin.dat").read_bytes() == data
    r = lab.call("whisper_read_file", file_path="bin.dat")
    assert r["encoding"] == "base64" and base64.b64decode(r["content"]) == data
    assert r["sha256"] == hashlib.sha256(data).hexdigest()


def test_bad_base64_refused(lab, root):
    with pytest.raises(homelab.InvalidArgumentError, match="base64"):
        lab.call("whisper_write_file", file_path="x", content="@@@", encoding="base64")
    assert not (root / "x").exists()


def test_list_sorted_with_types(lab, root):
    (root / "b.txt").write_text("bb")
    os.chmod(root / "b.txt", 0o640)
    (root / "a-dir").mkdir()
    os.symlink("b.txt", root / "c-link")
    os.mkfifo(root / "d-fifo")
    r = lab.call("whisper_list_files", directory=str(root))
    assert r["directory"] == str(root) and r["count"] == 4 and r["truncated"] is False
    names = [e["name"] for e in r["entries"]]
    assert names == ["a-dir", "b.txt", "c-link", "d-fifo"]
    e = {x["name"]: x for x in r["entries"]}
    assert (e["a-dir"]["type"], e["b.txt"]["type"], e["c-link"]["type"], e["d-fifo"]["type"]) == \
        ("dir", "file", "symlink", "other")
    assert e["b.txt"]["size"] == 2 and e["b.txt"]["mode"] == "0640" and e["b.txt"]["symlink_target"] is None
    assert e["c-link"]["symlink_target"] == "b.txt"
    assert time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(os.stat(root / "b.txt").st_mtime)) == e["b.txt"]["mtime"]


def test_atomic_replace_keeps_mode(lab, root):
    f = root / "conf"
    f.write_text("old\n")
    os.chmod(f, 0o600)
    ino = os.stat(f).st_ino
    w = lab.call("whisper_write_file", file_path=str(f), content="new\n")
    assert w["created"] is False and w["replaced"] is True
    assert f.read_text() == "new\n"
    assert os.stat(f).st_mode & 0o7777 == 0o600
    assert os.stat(f).st_ino != ino            # a new file renamed over the old one
    assert sorted(p.name for p in root.iterdir()) == ["conf"]  # no temporary file left


def test_new_file_mode_0644(lab, root):
    lab.call("whisper_write_file", file_path="new", content="x")
    assert os.stat(root / "new").st_mode & 0o7777 == 0o644


def test_write_over_the_cap_leaves_the_old_file(lab, root):
    f = root / "big"
    f.write_text("keep me")
    with pytest.raises(homelab.InvalidArgumentError, match="over the cap"):
        lab.call("whisper_write_file", file_path=str(f), content=base64.b64encode(b"a" * (16 * 1024 * 1024 + 1)).decode(),
                 encoding="base64")
    assert f.read_text() == "keep me" and sorted(p.name for p in root.iterdir()) == ["big"]


def test_read_cap(lab, root):
    (root / "long").write_text("0123456789" * 10)
    r = lab.call("whisper_read_file", file_path="long", max_bytes=15)
    assert (r["content"], r["size"], r["bytes"], r["truncated"]) == ("012345678901234", 100, 15, True)


def test_create_parents(lab, root):
    with pytest.raises(homelab.NotFoundError, match="create_parents"):
        lab.call("whisper_write_file", file_path="a/b/c.txt", content="x")
    assert not (root / "a").exists()
    w = lab.call("whisper_write_file", file_path="a/b/c.txt", content="x", create_parents=True)
    assert w["path"] == str(root / "a" / "b" / "c.txt") and (root / "a/b/c.txt").read_text() == "x"


def test_directories_are_not_files(lab, root):
    (root / "d").mkdir()
    with pytest.raises(homelab.InvalidArgumentError, match="not a file"):
        lab.call("whisper_read_file", file_path="d")
    with pytest.raises(homelab.InvalidArgumentError, match="is a dir"):
        lab.call("whisper_write_file", file_path="d", content="x")
    with pytest.raises(homelab.NotFoundError):
        lab.call("whisper_read_file", file_path="nosuch")


# ---------------------------------------------------------------- escapes ---

def escape_attempts(root, outside, tmp_path):
    sibling = tmp_path / "root2"
    sibling.mkdir(exist_ok=True)
    (sibling / "f").write_text("sibling\n")
    if not (root / "out-link").exists():
        os.symlink(outside / "secret", root / "out-link")     # a symlink inside pointing outside
        os.symlink(outside, root / "out-dir")                 # a symlinked parent directory
    return [
        "../outside/secret",                  # ../ escape, relative
        str(root) + "/../outside/secret",     # ../ escape, absolute
        str(outside / "secret"),              # absolute outside
        "/etc/passwd",
        str(sibling / "f"),                   # sibling prefix: root2 is not inside root
        str(root / "out-link"),
        str(root / "out-dir" / "secret"),
    ]


def test_reads_outside_the_root_refused(lab, root, outside, tmp_path):
    for p in escape_attempts(root, outside, tmp_path):
        with pytest.raises(homelab.AuthError) as e:
            lab.call("whisper_read_file", file_path=p)
        assert "outside the allowed roots" in str(e.value) and str(root) in str(e.value), p
    for d in ["..", str(outside), str(root / "out-dir"), str(tmp_path / "root2")]:
        with pytest.raises(homelab.AuthError):
            lab.call("whisper_list_files", directory=d)


def test_writes_outside_the_root_refused(lab, root, outside, tmp_path):
    before_out, before_sib = snapshot(outside), None
    for p in escape_attempts(root, outside, tmp_path) + [str(root / "out-dir" / "new"), "../outside/new",
                                                         str(tmp_path / "root2" / "new")]:
        before_sib = snapshot(tmp_path / "root2")
        with pytest.raises((homelab.AuthError, homelab.InvalidArgumentError)) as e:
            lab.call("whisper_write_file", file_path=p, content="pwned\n", create_parents=True)
        assert "outside the allowed roots" in str(e.value) or "symlink" in str(e.value), (p, str(e.value))
        assert snapshot(outside) == before_out, p
        assert snapshot(tmp_path / "root2") == before_sib, p
    # the symlink at the final component (inside the root) was not followed nor replaced
    assert os.readlink(root / "out-link") == str(outside / "secret")


def test_create_parents_cannot_climb_out(lab, root, outside):
    with pytest.raises(homelab.HomelabError):
        lab.call("whisper_write_file", file_path="new/../../outside/x", content="x", create_parents=True)
    assert snapshot(outside) == [("secret", b"top secret\n")]
    assert not (root / "new").exists()


@pytest.mark.parametrize("bad", ["a\x00b", "a\nb", "a\x1bb", "a\x7fb"])
def test_control_characters_refused(lab, root, bad):
    for tool, key in [("whisper_read_file", "file_path"), ("whisper_list_files", "directory")]:
        with pytest.raises(homelab.InvalidArgumentError, match="NUL|control character"):
            lab.call(tool, {key: bad})
    with pytest.raises(homelab.InvalidArgumentError, match="NUL|control character"):
        lab.call("whisper_write_file", file_path=bad, content="x")
    assert list(root.iterdir()) == []


def test_default_root_is_the_home_directory(lab, tmp_path):
    # no roots set: only the SSH user's home (root's, here) is allowed
    home = os.path.realpath(os.path.expanduser("~root"))
    r = lab.call("whisper_list_files", directory=".")
    assert r["directory"] == home
    with pytest.raises(homelab.AuthError) as e:
        lab.call("whisper_read_file", file_path=str(tmp_path))
    assert f"({home})" in str(e.value)
    with pytest.raises(homelab.AuthError):
        lab.call("whisper_write_file", file_path=str(tmp_path / "x"), content="x")
    assert not (tmp_path / "x").exists()


def test_roots_cleared_and_several(cli, lab, root, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    cli.ok("vms", "set", "whisper", "--file-root", root, "--file-root", other)
    lab.call("whisper_write_file", file_path=str(other / "f"), content="x")
    cli.ok("vms", "set", "whisper", "--file-root", "")
    with pytest.raises(homelab.AuthError):
        lab.call("whisper_read_file", file_path=str(other / "f"))
    assert cli("vms", "set", "whisper", "--file-root", "relative").rc == 2


def test_write_audited_without_content(lab, root, db):
    lab.call("whisper_write_file", file_path="audited", content="the content itself")
    con = sqlite3.connect(db)
    rows = con.execute("SELECT result, target_id, details FROM audit_log WHERE action = 'file_write' "
                       "ORDER BY rowid").fetchall()
    con.close()
    sha = hashlib.sha256(b"the content itself").hexdigest()
    assert rows[-2][0] == "started" and rows[-1][0] == "ok" and rows[-1][1] == "101"
    for r in rows[-2:]:
        assert f"path={root}/audited" in r[2] and "size=18" in r[2] and sha in r[2]
        assert "the content itself" not in r[2]


def test_read_only_audit_log_nothing_written(db, trusted, root):
    with homelab.Homelab(db, readonly=True) as hl:
        with pytest.raises(homelab.HomelabError, match="audit log could not be written"):
            hl.call("whisper_write_file", file_path="nope", content="x")
    assert list(root.iterdir()) == []


def test_generated_methods(lab, root):
    lab.whisper_write_file(file_path="g", content="gen")
    assert lab.whisper_read_file(file_path="g")["content"] == "gen"
    assert lab.whisper_list_files(directory=str(root))["entries"][0]["name"] == "g"
