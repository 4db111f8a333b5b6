"""`homelab files ls|cat|put` and `homelab vms set --file-root`."""
import os


def test_put_cat_ls(cli, trusted, tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    cli.ok("vms", "set", "whisper", "--file-root", root)
    data = bytes(range(256)) * 100
    local = tmp_path / "local.bin"
    local.write_bytes(data)
    r = cli.ok("--json", "files", "put", "whisper", str(root / "b.bin"), "--from", local)
    assert r.json()["bytes_written"] == len(data) and r.json()["created"] is True
    assert (root / "b.bin").read_bytes() == data
    r = cli("files", "cat", "whisper", str(root / "b.bin"), binary=True)
    assert r.rc == 0 and r.out == data
    cli.ok("files", "put", "whisper", "sub/t.txt", "--create-parents", input="text from stdin\n")
    assert (root / "sub" / "t.txt").read_text() == "text from stdin\n"
    assert cli.ok("files", "cat", "whisper", "sub/t.txt").out == "text from stdin\n"
    os.symlink("b.bin", root / "link")
    lines = cli.ok("files", "ls", "whisper", root).out.splitlines()
    assert [ln.split()[0] for ln in lines] == ["file", "symlink", "dir"]
    assert lines[1].endswith("link -> b.bin") and lines[0].split()[1] == "0644"


def test_refusals(cli, trusted, tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    cli.ok("vms", "set", "whisper", "--file-root", root)
    r = cli("files", "cat", "whisper", "/etc/passwd")
    assert r.rc == 1 and "outside the allowed roots" in r.err and str(root) in r.err
    r = cli("files", "put", "whisper", "/etc/homelab-test", input="x")
    assert r.rc == 1 and not os.path.exists("/etc/homelab-test")
    assert cli("files", "ls", "nosuch", "/").rc == 3
    assert cli("files", "put", "whisper").rc == 2
