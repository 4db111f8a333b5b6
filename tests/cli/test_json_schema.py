"""Every --json output of the CLI is its tool's result (issue 11): checked
against the tool's output schema from the library's table, for each command
that prints one. The remote tools (gpu) are checked in tests/remote."""
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

import schema_check
from conftest import HOMELAB

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "ollama"))
from ollama_double import OllamaDouble  # noqa: E402



def test_checker_finds_what_is_wrong():
    schema = schema_check.output_schema(HOMELAB, "homelab_list_vms")
    good = {"vms": [{"vm_id": 1, "name": "a", "ip": None, "status": None, "host_id": None, "host": None}],
            "count": 1}
    assert schema_check.errors(good, schema) == []
    bad = {"vms": [{"vm_id": "1", "name": "a", "ip": None, "status": None, "host_id": None}]}
    errs = schema_check.errors(bad, schema)
    assert "$: missing count" in errs and any("$.vms[0].vm_id" in e for e in errs)
    assert any("missing host" in e for e in errs)
    assert schema_check.errors(1, {"minimum": 0}) != []


class Health(BaseHTTPRequestHandler):
    def do_GET(self):
        code = 200 if self.path == "/healthz" else 503
        self.send_response(code)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *a):
        pass


@pytest.fixture
def lab(demo):
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Health)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    demo.ok("services", "add", "probe", "--url", f"http://127.0.0.1:{srv.server_port}", "--health", "/healthz")
    yield demo
    srv.shutdown()
    srv.server_close()


# (command, the tool whose result it prints)
COMMANDS = [
    (["vms", "list"], "homelab_list_vms"),
    (["vms", "list", "--status", "running"], "homelab_list_vms"),
    (["vms", "show", "whisper"], "homelab_get_vm"),
    (["vms", "show", "101"], "homelab_get_vm"),
    (["vms", "add", "quasar", "--ip", "127.0.3.4"], "homelab_get_vm"),
    (["vms", "set", "sandbox", "--status", "running"], "homelab_get_vm"),
    (["hosts", "list"], "homelab_list_hosts"),
    (["hosts", "show", "pve"], "homelab_get_host"),
    (["hosts", "add", "pve2", "--ip", "127.0.9.9"], "homelab_get_host"),
    (["services", "list"], "homelab_list_services"),
    (["services", "list", "--vm", "harbor"], "homelab_list_services"),
    (["services", "show", "ollama"], "homelab_get_service"),
    (["services", "check", "probe", "--timeout-s", "2"], "homelab_check_service_health"),
    (["services", "check", "ollama", "--timeout-s", "1"], "homelab_check_service_health"),
    (["services", "check", "--all", "--timeout-s", "1"], "homelab_check_all_services"),
    (["services", "add", "extra", "--url", "http://127.0.0.1:9"], "homelab_get_service"),
    (["ip", "lookup", "127.0.1.201"], "homelab_lookup_ip"),
    (["ip", "list"], "homelab_list_ips"),
    (["ip", "allocate", "--subnet", "127.0.1.0/24", "--to", "whisper"], "homelab_allocate_ip"),
    (["audit", "list", "--limit", "5"], "homelab_audit_list"),
    (["audit", "verify"], "homelab_audit_verify"),
]


@pytest.mark.parametrize("args, tool", COMMANDS, ids=[" ".join(a) for a, _ in COMMANDS])
def test_json_output_matches_the_tool_schema(lab, args, tool):
    r = lab.ok("--json", "--yes", *args)
    schema_check.check(HOMELAB, tool, r.json())


def test_tools_call_of_every_local_read_tool(lab):
    calls = {
        "homelab_list_vms": [], "homelab_get_vm": ["name=whisper"], "homelab_list_hosts": [],
        "homelab_get_host": ["name=pve"], "homelab_list_services": [], "homelab_get_service": ["name=ollama"],
        "homelab_lookup_ip": ["ip=127.0.1.202"], "homelab_list_ips": [], "homelab_audit_list": [],
        "homelab_audit_verify": [],
    }
    for tool, args in calls.items():
        schema_check.check(HOMELAB, tool, lab.ok("--json", "tools", "call", tool, *args).json())


def test_credentials_json(lab):
    env = {"HOMELAB_DB_KEY": lab.ok("creds", "keygen").out.strip()}
    lab.ok("creds", "set", "vm:whisper", "--user", "ccpm", "--password", input="s3cret\n", env=env)
    r = lab.ok("--json", "creds", "get", "vm:whisper", env=env)
    schema_check.check(HOMELAB, "homelab_get_credentials", r.json())


def test_ollama_json(hl, tmp_path):
    hl.ok("db", "init")
    hl.ok("vms", "add", "whisper", "--ip", "127.0.0.1")
    modelfile = tmp_path / "Modelfile"
    modelfile.write_text("FROM gemma:2b\nPARAMETER temperature 0.5\n")
    with OllamaDouble() as double:
        hl.ok("services", "add", "ollama", "--vm", "whisper", "--url", double.url)
        env = {"http_proxy": "", "HTTP_PROXY": "", "all_proxy": "", "ALL_PROXY": ""}
        for args, tool in ((["ls"], "ollama_list_models"), (["ps"], "ollama_running_models"),
                           (["show", "gemma:2b"], "ollama_show_model"), (["pull", "gemma:7b"], "ollama_pull_model"),
                           (["cp", "gemma:2b", "mine"], "ollama_copy_model"),
                           (["create", "bot", "-f", str(modelfile)], "ollama_create_model"),
                           (["rm", "gemma:2b", "--yes"], "ollama_delete_model")):
            r = hl.ok("--json", "ollama", *args, env=env)
            schema_check.check(HOMELAB, tool, r.json())
