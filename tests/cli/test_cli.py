"""The `homelab` CLI: output, exit codes and errors, run on real SQLite files."""
import http.server
import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
import threading
import time

import pytest

from conftest import HOMELAB, Homelab
import unprivileged


def test_help_lists_commands_and_exit_codes(hl):
    r = hl.ok("--help", db=False)
    for word in ("vms", "hosts", "services", "ip", "tools", "db", "Exit codes: 0 ok, 1 error, 2 usage"):
        assert word in r.out
    r = hl.ok("vms", "--help", db=False)
    assert "homelab vms list [--status S] [--host H]" in r.out


def test_no_command_without_terminal_is_usage(hl):
    r = hl(db=False)
    assert r.rc == 2 and "usage: homelab" in r.err


def test_unknown_command_and_option(hl):
    r = hl("frobnicate")
    assert r.rc == 2 and "unknown command 'frobnicate'" in r.err
    r = hl("--frob")
    assert r.rc == 2 and "unknown option '--frob'" in r.err
    r = hl("vms", "list", "--colour", "red")
    assert r.rc == 2 and "unknown option '--colour'" in r.err
    r = hl("vms", "show")
    assert r.rc == 2 and "usage: homelab vms show NAME|VMID" in r.err


def test_db_init_demo_and_info(hl):
    r = hl.ok("db", "init", "--demo")
    assert "demo inventory loaded" in r.out
    info = hl.ok("--json", "db", "info").json()
    assert info["vms"] == 3 and info["hosts"] == 1 and info["services"] == 3
    assert info["read_only"] is False and info["schema_version"] >= 1
    # A second --demo on a filled inventory is refused, and nothing changes.
    r = hl("db", "init", "--demo")
    assert r.rc == 1 and "not empty" in r.err
    assert hl.ok("--json", "db", "info").json()["vms"] == 3


def test_vms_list_table(demo):
    r = demo.ok("vms", "list")
    lines = r.out.splitlines()
    assert lines[0].split() == ["VM_ID", "NAME", "IP", "STATUS", "HOST_ID", "HOST", "SSH_USER", "SSH_PORT"]
    assert lines[1].split() == ["101", "whisper", "127.0.1.201", "running", "1", "pve", "ccpm", "22"]
    assert lines[3].split() == ["103", "sandbox", "127.0.1.203", "stopped", "1", "pve", "-", "-"]
    # columns are aligned: every NAME cell starts at the same offset
    col = lines[0].index("NAME")
    assert all(line[col:].startswith(n) for line, n in zip(lines[1:], ("whisper", "harbor", "sandbox")))


def test_vms_list_filters_and_json(demo):
    data = demo.ok("--json", "vms", "list", "--status", "running").json()
    assert [v["name"] for v in data["vms"]] == ["whisper", "harbor"] and data["count"] == 2
    data = demo.ok("--json", "vms", "list", "--host", "pve", "--status", "stopped").json()
    assert [v["name"] for v in data["vms"]] == ["sandbox"]
    r = demo("vms", "list", "--host", "nosuchhost")
    assert r.rc == 3 and "host 'nosuchhost' not found" in r.err
    r = demo("vms", "list", "--status", "bogus")
    assert r.rc == 2 and "status: must be one of running, stopped" in r.err


def test_vms_show_by_name_and_id(demo):
    a = demo.ok("--json", "vms", "show", "whisper").json()
    b = demo.ok("--json", "vms", "show", "101").json()
    assert a == b
    assert a["ip"] == "127.0.1.201" and a["services"][0]["service_name"] == "ollama"
    r = demo.ok("vms", "show", "WHISPER")  # names are case-insensitive
    assert "name:     whisper" in r.out
    r = demo("vms", "show", "nope")
    assert r.rc == 3 and r.err == "homelab: vm 'nope' not found\n"


def test_vms_add_set_rm(demo):
    r = demo.ok("--json", "vms", "add", "builder", "--ip", "127.0.1.50", "--host", "pve",
                "--status", "running", "--ssh-user", "ops", "--ssh-port", "2222")
    vm = r.json()
    assert vm["vm_id"] == 104 and vm["host"] == "pve" and vm["ssh_port"] == 2222
    r = demo("vms", "add", "builder")
    assert r.rc == 1 and "vm 'builder' already exists" in r.err
    r = demo("vms", "add", "other", "--ip", "127.0.1.50")
    assert r.rc == 1 and "ip 127.0.1.50 is already held by vm builder" in r.err
    r = demo("vms", "add", "bad", "--ip", "999.1.1.1")
    assert r.rc == 2 and "'999.1.1.1' is not an IPv4 or IPv6 address" in r.err
    r = demo("vms", "add", "bad", "--ssh-port", "70000")
    assert r.rc == 2 and "not a port number" in r.err
    vm = demo.ok("--json", "vms", "set", "builder", "--status", "stopped", "--ip", "").json()
    assert vm["status"] == "stopped" and vm["ip"] is None
    demo.ok("vms", "rm", "builder")
    assert demo("vms", "show", "builder").rc == 3


def test_vm_with_services_needs_force(demo):
    r = demo("vms", "rm", "harbor")
    assert r.rc == 1 and "still has 2 services" in r.err
    assert demo.ok("--json", "vms", "show", "harbor").json()["name"] == "harbor"
    demo.ok("vms", "rm", "harbor", "--force")
    assert demo("vms", "show", "harbor").rc == 3
    names = [s["service_name"] for s in demo.ok("--json", "services", "list").json()["services"]]
    assert names == ["ollama"]


def test_hosts(demo):
    data = demo.ok("--json", "hosts", "list").json()
    assert data["hosts"] == [{"id": 1, "node_name": "pve", "ip_address": "127.0.1.10", "vm_count": 3}]
    h = demo.ok("--json", "hosts", "show", "pve").json()
    assert [v["name"] for v in h["vms"]] == ["whisper", "harbor", "sandbox"]
    assert demo.ok("--json", "hosts", "add", "pve2", "--ip", "127.0.1.11").json()["id"] == 2
    r = demo("hosts", "rm", "pve")
    assert r.rc == 1 and "host 'pve' still has 3 vms" in r.err
    demo.ok("hosts", "rm", "pve2")
    assert demo("hosts", "show", "pve2").rc == 3


def test_services_list_show(demo):
    data = demo.ok("--json", "services", "list", "--vm", "harbor").json()
    assert [s["service_name"] for s in data["services"]] == ["homelab-mcp", "open-webui"]
    data = demo.ok("--json", "services", "list", "--vm", "101").json()
    assert [s["service_name"] for s in data["services"]] == ["ollama"]
    s = demo.ok("--json", "services", "show", "ollama").json()
    assert s["url"] == "http://127.0.1.201:11434" and s["vm_name"] == "whisper"
    assert demo("services", "show", "nothing").rc == 3


class _Handler(http.server.BaseHTTPRequestHandler):
    status = 200

    def do_GET(self):
        code = 200 if self.path == "/healthz" else 503
        self.send_response(code)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


@pytest.fixture
def http_service():
    srv = http.server.HTTPServer(("127.0.0.1", 0), _Handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield srv.server_address[1]
    srv.shutdown()
    srv.server_close()


def test_services_check_health(demo, http_service):
    port = http_service
    demo.ok("services", "add", "probe", "--url", f"http://127.0.0.1:{port}", "--health", "/healthz",
            "--port", port)
    demo.ok("services", "add", "sick", "--url", f"http://127.0.0.1:{port}/", "--health", "broken")
    r = demo.ok("--json", "services", "check", "probe").json()
    assert r["status"] == "healthy" and r["healthy"] is True and r["http_status"] == 200
    assert r["url"] == f"http://127.0.0.1:{port}/healthz"
    r = demo.ok("--json", "services", "check", "sick").json()
    assert r["status"] == "unhealthy" and r["http_status"] == 503 and r["error"] == "HTTP status 503"
    # the demo's Ollama is not running: unreachable is an answer, not a failure
    r = demo.ok("--json", "services", "check", "ollama", "--timeout-s", "2").json()
    assert r["status"] == "unreachable" and r["http_status"] is None and r["error"]
    r = demo("services", "add", "nourl", "--url", "127.0.0.1:80")
    assert r.rc == 2 and "has no scheme" in r.err


def test_services_check_all(demo, http_service):
    port = http_service
    demo.ok("services", "add", "probe", "--url", f"http://127.0.0.1:{port}", "--health", "/healthz")
    demo.ok("services", "add", "sick", "--url", f"http://127.0.0.1:{port}", "--health", "/broken", "--vm", "harbor")
    demo.ok("services", "add", "bare")
    r = demo.ok("--json", "services", "check", "--all", "--timeout-s", "2").json()
    assert r == demo.ok("--json", "tools", "call", "homelab_check_all_services", "timeout_s=2").json() | {
        "services": r["services"]}  # the same tool; response times differ between runs
    by_name = {s["service_name"]: s for s in r["services"]}
    assert list(by_name) == sorted(by_name)
    assert (r["count"], r["healthy"], r["unhealthy"], r["unreachable"], r["not_checked"]) == (6, 1, 1, 3, 1)
    assert by_name["probe"]["status"] == "healthy" and by_name["sick"]["http_status"] == 503
    assert by_name["bare"]["status"] == "not_checked" and "has no url to probe" in by_name["bare"]["error"]
    # one VM's services; the table names every service and the totals
    r = demo.ok("--json", "services", "check", "--vm", "harbor").json()
    assert [s["service_name"] for s in r["services"]] == ["homelab-mcp", "open-webui", "sick"]
    out = demo.ok("services", "check", "--all").out
    assert "healthy:     1" in out and "not_checked: 1" in out and "probe" in out
    r = demo("services", "check")
    assert r.rc == 2 and "services check NAME | --all" in r.err
    r = demo("services", "check", "--vm", "nosuch")
    assert r.rc == 3 and "nosuch" in r.err


def test_ip_lookup_list_allocate_release(demo):
    r = demo.ok("--json", "ip", "lookup", "127.0.1.202").json()
    assert r["held_by"] == ["vm", "allocation"] and r["vm"]["name"] == "harbor"
    r = demo.ok("--json", "ip", "lookup", "127.0.1.10").json()
    assert r["held_by"] == ["host", "allocation"] and r["host"]["node_name"] == "pve"
    r = demo("ip", "lookup", "127.0.1.99")
    assert r.rc == 3 and "127.0.1.99 is not allocated" in r.err
    r = demo("ip", "lookup", "127.0.1")
    assert r.rc == 2 and "not an IPv4 or IPv6 address" in r.err
    a = demo.ok("--json", "ip", "allocate", "--subnet", "127.0.1.0/24", "--to", "laptop").json()
    assert a == {"ip_address": "127.0.1.2", "hostname": "laptop", "allocated_to": "laptop", "type": "static"}
    b = demo.ok("--json", "ip", "allocate", "--subnet", "127.0.1.0/24", "--to", "phone", "--type", "dhcp").json()
    assert b["ip_address"] == "127.0.1.3" and b["type"] == "dhcp"
    r = demo("ip", "allocate", "--subnet", "127.0.1.5/24", "--to", "x")
    assert r.rc == 2 and "host bits set (did you mean 127.0.1.0/24?)" in r.err
    r = demo("ip", "allocate", "--subnet", "127.0.1.0/24")
    assert r.rc == 2 and "usage: homelab ip allocate" in r.err
    ips = [x["ip_address"] for x in demo.ok("--json", "ip", "list", "--subnet", "127.0.1.0/30").json()["allocations"]]
    assert ips == ["127.0.1.1", "127.0.1.2", "127.0.1.3"]
    demo.ok("ip", "release", "127.0.1.2")
    assert demo("ip", "release", "127.0.1.2").rc == 3
    # the freed address is the next one handed out
    assert demo.ok("--json", "ip", "allocate", "--subnet", "127.0.1.0/24", "--to", "tv").json()["ip_address"] == "127.0.1.2"
    demo.ok("ip", "add", "127.0.2.7", "--to", "printer")
    r = demo("ip", "add", "127.0.2.7", "--to", "scanner")
    assert r.rc == 1 and "ip 127.0.2.7 is already allocated to printer" in r.err


def test_full_subnet(hl):
    hl.ok("db", "init")
    assert hl.ok("--json", "ip", "allocate", "--subnet", "127.9.9.0/30", "--to", "a").json()["ip_address"] == "127.9.9.1"
    assert hl.ok("--json", "ip", "allocate", "--subnet", "127.9.9.0/30", "--to", "b").json()["ip_address"] == "127.9.9.2"
    r = hl("ip", "allocate", "--subnet", "127.9.9.0/30", "--to", "c")
    assert r.rc == 1 and "subnet 127.9.9.0/30 has no free address" in r.err


def test_concurrent_cli_allocations_are_distinct(demo):
    procs = [subprocess.Popen([HOMELAB, "--db", demo.db, "--json", "ip", "allocate", "--subnet", "127.0.1.0/24",
                               "--to", f"node{i}"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              stdin=subprocess.DEVNULL) for i in range(8)]
    got = []
    for p in procs:
        out, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
        got.append(json.loads(out)["ip_address"])
    assert len(set(got)) == 8
    assert sorted(got, key=lambda ip: int(ip.split(".")[3])) == [f"127.0.1.{i}" for i in range(2, 10)]


def test_tools_list_schema_call(demo):
    data = demo.ok("--json", "tools", "list").json()
    names = [t["name"] for t in data["tools"]]
    assert names[:3] == ["homelab_list_vms", "homelab_get_vm", "homelab_list_hosts"]
    assert data["count"] == len(names) and len(set(names)) == len(names)
    schema = json.loads(demo.ok("tools", "schema", "homelab_list_vms").out)
    assert schema["additionalProperties"] is False and "status" in schema["properties"]
    out_schema = json.loads(demo.ok("tools", "schema", "homelab_list_vms", "--output").out)
    assert out_schema["required"] == ["vms", "count"]
    assert demo("tools", "schema", "nope").rc == 3
    r = demo.ok("--json", "tools", "call", "homelab_get_vm", "vm_id=102").json()
    assert r["name"] == "harbor"
    r = demo.ok("--json", "tools", "call", "homelab_list_services", "vm_id=whisper").json()
    assert r["count"] == 1
    r = demo.ok("--json", "tools", "call", "homelab_lookup_ip", "--args", "-", input='{"ip":"127.0.1.203"}').json()
    assert r["vm"]["name"] == "sandbox"
    r = demo("tools", "call", "homelab_get_vm", "vm_id=abc")
    assert r.rc == 2 and "vm_id: must be an integer, not string" in r.err
    r = demo("tools", "call", "homelab_get_vm", "colour=red")
    assert r.rc == 2 and "colour: unknown argument (expected vm_id, name)" in r.err
    r = demo("tools", "call", "homelab_get_vm", "novalue")
    assert r.rc == 2 and "'novalue' is not key=value" in r.err
    r = demo("tools", "call", "homelab_get_vm", "--args", "{not json")
    assert r.rc == 2 and "arguments: invalid JSON" in r.err
    help_text = demo.ok("tools", "call", "homelab_check_service_health", "--help").out
    assert "name           string, required" in help_text and "scope: inventory:read" in help_text


def test_help_after_a_subcommand(hl):
    """Completion offers --help after every subcommand: it must work there."""
    group = hl.ok("vms", "--help", db=False).out
    for argv in (("vms", "list", "--help"), ("vms", "show", "-h"), ("audit", "list", "--help"),
                 ("creds", "list", "--help"), ("services", "check", "x", "--help")):
        r = hl.ok(*argv, db=False)
        assert r.out == hl.ok(argv[0], "--help", db=False).out, argv
    assert hl.ok("vms", "list", "--help", db=False).out == group
    # after --, --help belongs to the remote command
    r = hl("ssh", "whisper", "--", "ls", "--help")  # no such database: nothing runs
    assert "homelab ssh:" not in r.out


def test_every_tool_help_renders(demo):
    for t in demo.ok("--json", "tools", "list").json()["tools"]:
        r = demo.ok("tools", "call", t["name"], "--help")
        assert r.out.startswith(t["name"] + ": ") and "arguments (key=value):" in r.out


def _as_nobody():
    """Root ignores file modes: run the CLI as nobody to test read-only files for
    real, from a copy of the programs that nobody can reach."""
    return unprivileged.prefix() + [unprivileged.programs().homelab]


@pytest.fixture
def ro_copy(demo):
    """The demo database in a world-readable directory, as a read-only file."""
    d = tempfile.mkdtemp(prefix="hl-ro-")
    os.chmod(d, 0o755)
    db = os.path.join(d, "homelab.db")
    shutil.copy(demo.db, db)
    os.chmod(db, 0o444)
    yield db
    os.chmod(d, 0o755)
    shutil.rmtree(d)


def _run(prefix, db, *args):
    p = subprocess.run(prefix + ["--db", db] + list(args), capture_output=True, text=True,
                       stdin=subprocess.DEVNULL, timeout=60, env=unprivileged.programs().env(), cwd="/")
    return p.returncode, p.stdout, p.stderr


def test_read_only_database(ro_copy):
    before = open(ro_copy, "rb").read()
    rc, out, err = _run(_as_nobody(), ro_copy, "--json", "vms", "list")
    assert rc == 0, err
    assert json.loads(out)["count"] == 3
    rc, out, err = _run(_as_nobody(), ro_copy, "--json", "ip", "lookup", "127.0.1.10")
    assert rc == 0 and json.loads(out)["host"]["node_name"] == "pve"
    rc, out, err = _run(_as_nobody(), ro_copy, "vms", "add", "x")
    assert rc == 1 and "the database is open read-only" in err
    rc, out, err = _run(_as_nobody(), ro_copy, "ip", "allocate", "--subnet", "127.0.1.0/24", "--to", "x")
    assert rc == 1 and "read-only" in err
    assert open(ro_copy, "rb").read() == before


def test_read_only_directory_mount(ro_copy):
    """The Python server's deployment: the inventory directory mounted read-only."""
    os.chmod(os.path.dirname(ro_copy), 0o555)
    rc, out, err = _run(_as_nobody(), ro_copy, "--json", "services", "list")
    assert rc == 0, err
    assert json.loads(out)["count"] == 3


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run the CLI as another user")
def test_cli_is_not_dumpable(ro_copy):
    """Any command may hold a key or a password (creds get, tools call, the
    shell): no core dump, no ptrace by its own user. The kernel shows this by
    giving /proc/PID to root."""
    p = subprocess.Popen(_as_nobody() + ["--db", ro_copy, "shell"], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=unprivileged.programs().env(),
                         cwd="/")
    try:
        owner, deadline = None, time.monotonic() + 10
        while time.monotonic() < deadline:
            with open(f"/proc/{p.pid}/comm") as f:
                comm = f.read().strip()
            if comm == "homelab":
                owner = os.stat(f"/proc/{p.pid}/environ").st_uid
                if owner == 0:
                    break
            time.sleep(0.01)
        with open(f"/proc/{p.pid}/status") as f:
            uid = next(line for line in f if line.startswith("Uid:"))
        assert uid.split()[1:] == ["65534"] * 4, uid
        assert owner == 0, f"/proc/{p.pid}/environ of the shell belongs to uid {owner}"
        out, err = p.communicate(b"vms show harbor\nexit\n", timeout=30)
        assert p.returncode == 0, err
        assert b"harbor" in out
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def test_corrupt_and_foreign_files(tmp_path):
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not a database at all" * 100)
    r = Homelab(str(junk))("vms", "list")
    assert r.rc == 1 and "not a homelab database" in r.err
    assert junk.read_bytes() == b"this is not a database at all" * 100
    other = tmp_path / "other.db"
    con = sqlite3.connect(other)
    con.execute("CREATE TABLE recipes (name TEXT)")
    con.commit()
    con.close()
    r = Homelab(str(other))("vms", "list")
    assert r.rc == 1 and "not a homelab inventory" in r.err
    r = Homelab(str(tmp_path))("vms", "list")
    assert r.rc == 2 and "is a directory" in r.err


def test_default_database_path_from_environment(tmp_path):
    hl = Homelab(None)
    r = hl.ok("db", "path", db=False, env={"HOMELAB_DB_PATH": "", "XDG_DATA_HOME": str(tmp_path / "xdg")})
    assert r.out.strip() == str(tmp_path / "xdg" / "homelab" / "homelab.db")
    r = hl.ok("db", "init", db=False, env={"HOMELAB_DB_PATH": str(tmp_path / "a" / "b.db")})
    assert os.path.exists(tmp_path / "a" / "b.db")


def test_shell_runs_commands_from_stdin_lines(demo):
    """The REPL reads lines with readline; without a terminal it still works line by line."""
    r = demo("shell", input="vms show harbor\nip lookup '127.0.1.201'\nexit\n")
    assert r.rc == 0
    assert "name:     harbor" in r.out and "held_by:    vm, allocation" in r.out


def _on_a_terminal(db, args, answer, env=None):
    """Run the CLI with a terminal as stdin/stdout/stderr, answer its [y/N]
    prompt, and return (exit status, everything it wrote)."""
    import pty
    import select
    pid, fd = pty.fork()
    if pid == 0:  # the child: exec, whatever happens
        try:
            os.environ.update(env or {})
            os.execv(HOMELAB, [HOMELAB, "--db", db] + list(args))
        finally:
            os._exit(127)
    out, answered = b"", False
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 1)
        if not ready:
            continue
        try:
            data = os.read(fd, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        out += data
        if not answered and b"[y/N] " in out:
            os.write(fd, answer.encode() + b"\n")
            answered = True
    os.close(fd)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), out.decode("utf-8", "replace")


@pytest.mark.parametrize("args,question,unchanged", [
    (["vms", "rm", "sandbox"], "remove vm sandbox?", ("vms", "show", "sandbox")),
    (["services", "rm", "ollama"], "remove service ollama?", ("services", "show", "ollama")),
    (["ip", "release", "127.0.1.1"], "release 127.0.1.1?", ("ip", "lookup", "127.0.1.1")),
    (["ip", "allocate", "--subnet", "127.0.1.0/24", "--to", "x"], "homelab_allocate_ip: Allocate an IP address",
     None),
])
def test_declined_confirmation_changes_nothing(demo, args, question, unchanged):
    ips = demo.ok("--json", "ip", "list").json()["count"]
    rc, out = _on_a_terminal(demo.db, args, "n")
    assert question in out and "[y/N]" in out, out
    assert rc == 1 and "homelab: not confirmed; nothing changed" in out, (rc, out)
    if unchanged:
        demo.ok(*unchanged)
    assert demo.ok("--json", "ip", "list").json()["count"] == ips
    # yes does it
    rc, out = _on_a_terminal(demo.db, args, "y")
    assert rc == 0 and "not confirmed" not in out, (rc, out)
    if unchanged:
        assert demo(*unchanged).rc == 3
    else:
        assert demo.ok("--json", "ip", "list").json()["count"] == ips + 1


def test_declined_token_revoke_and_creds_rm(demo):
    demo.ok("tokens", "create", "webui", "--scope", "inventory:read")
    rc, out = _on_a_terminal(demo.db, ["tokens", "revoke", "webui"], "no")
    assert rc == 1 and "Revoke API token webui?" in out and "nothing changed" in out, out
    assert demo.ok("--json", "tokens", "list").json()["tokens"][0]["status"] == "active"
    key = demo.ok("creds", "keygen").out.strip()
    demo.ok("creds", "set", "vm:whisper", "--user", "ccpm", "--password", input="pw\n",
            env={"HOMELAB_DB_KEY": key})
    rc, out = _on_a_terminal(demo.db, ["creds", "rm", "vm:whisper"], "", env={"HOMELAB_DB_KEY": key})
    assert rc == 1 and "nothing changed" in out, out  # Enter alone means no
    assert demo.ok("--json", "creds", "list").json()["count"] == 1


def test_database_files_are_private(hl, tmp_path):
    """Under umask 022 the database, its -wal and -shm are 0600, the directory made for it 0700; an
    existing database others may read gets a warning on stderr."""
    import stat
    db = tmp_path / "new" / "dir" / "homelab.db"
    old = os.umask(0o022)
    try:
        hl.ok("--db", db, "db", "init", "--demo", db=False)
        hl.ok("--db", db, "vms", "add", "x1", "--ip", "127.0.9.1", db=False)
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(db).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(tmp_path / "new").st_mode) == 0o700
    assert stat.S_IMODE(os.stat(tmp_path / "new" / "dir").st_mode) == 0o700
    for suffix in ("-wal", "-shm"):
        if os.path.exists(str(db) + suffix):
            assert stat.S_IMODE(os.stat(str(db) + suffix).st_mode) == 0o600
    r = hl.ok("--db", db, "vms", "list", db=False)
    assert r.err == ""
    os.chmod(db, 0o644)
    r = hl.ok("--db", db, "vms", "list", db=False)
    assert "homelab: warning: " in r.err and "homelab.db is readable or writable by group or others (mode 644)" \
        in r.err and "chmod 600" in r.err
    assert "x1" in r.out


@pytest.mark.parametrize("args", [
    ("vms", "list"), ("db", "info"), ("audit", "verify"), ("creds", "list"), ("tokens", "list"),
    ("vms", "add", "x1", "--ip", "127.0.9.1"), ("tokens", "create", "t", "--scope", "*"),
    ("ip", "allocate", "--subnet", "127.0.9.0/24", "--to", "x"),
])
def test_missing_database_is_never_created(tmp_path, args):
    """A mistyped --db is an error (exit 3), not a new empty inventory; only `db init` creates one."""
    from conftest import Homelab
    db = tmp_path / "typo.db"
    hl = Homelab(str(db))
    r = hl(*args)
    assert r.rc == 3 and r.out == "", r
    assert r.err == f"homelab: no such database: {db} (create it with homelab db init)\n"
    assert sorted(os.listdir(tmp_path)) == []
    # `db path` (what `make run` asks first) names it without creating it; `db init` creates it
    assert hl.ok("db", "path").out.strip() == str(db) and not db.exists()
    hl.ok("db", "init")
    assert db.exists() and hl.ok("vms", "list").out == "(no vms)\n"


def test_missing_default_database(tmp_path):
    from conftest import Homelab
    hl = Homelab("unused")
    env = {"HOMELAB_DB_PATH": "", "XDG_DATA_HOME": str(tmp_path / "xdg")}
    r = hl("vms", "list", db=False, env=env)
    want = tmp_path / "xdg" / "homelab" / "homelab.db"
    assert r.rc == 3 and r.err == f"homelab: no such database: {want} (create it with homelab db init)\n"
    assert not (tmp_path / "xdg").exists()


def test_verbose_shows_each_health_answer_on_stderr(demo, http_service):
    port = http_service
    demo.ok("services", "add", "probe", "--url", f"http://127.0.0.1:{port}", "--health", "/healthz")
    demo.ok("services", "add", "sick", "--url", f"http://127.0.0.1:{port}", "--health", "/broken")
    demo.ok("services", "add", "bare")
    quiet = demo.ok("--json", "services", "check", "--all", "--timeout-s", "2")
    assert "health:" not in quiet.err
    r = demo.ok("-v", "--json", "services", "check", "--all", "--timeout-s", "2")
    assert r.json()["count"] == quiet.json()["count"]  # stdout is the same JSON
    lines = r.err.splitlines()
    assert any(l.startswith("health: info: probe: healthy (HTTP 200 in ") for l in lines), r.err
    assert "health: warning: sick: unhealthy (HTTP 503 in " in r.err
    assert "health: notice: bare: not checked (" in r.err
    # -v is info and up, -vv adds debug; the long name works too
    assert demo.ok("--verbose", "--json", "services", "check", "--all", "--timeout-s", "2").err.count("health: ") == \
        len([l for l in lines if l.startswith("health: ")])
    r = demo("--verbos", "vms", "list")
    assert r.rc == 2 and "did you mean '--verbose'" in r.err

