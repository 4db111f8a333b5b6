"""The official MCP TypeScript SDK client (tests/mcp/sdk_client.mjs) against homelab-mcpd:
Streamable HTTP, legacy SSE and stdio. Needs `scripts/install-npm-deps.sh` (node_modules)."""
import json
import os
import shutil
import subprocess

import pytest

import mcp_helpers as H

HERE = os.path.dirname(os.path.abspath(__file__))


def run_client(daemon, db, only="streamable,sse,stdio", token=None, concurrent=False):
    node = shutil.which("node")
    assert node, "node is not installed (Node.js is a test dependency: see DESIGN.md)"
    assert os.path.isdir(os.path.join(HERE, "node_modules", "@modelcontextprotocol", "sdk")), \
        "tests/mcp/node_modules is missing: run scripts/install-npm-deps.sh"
    argv = [node, "sdk_client.mjs", "--url", daemon.url, "--mcpd", H.mcpd_bin(), "--db", db, "--only", only]
    if token:
        argv += ["--token", token]
    if concurrent:
        argv += ["--concurrent", "1"]
    proc = subprocess.run(argv, cwd=HERE, capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL, env=H.clean_env())
    lines = proc.stdout.strip().splitlines()
    assert proc.returncode == 0 and len(lines) == 1, (proc.returncode, proc.stdout, proc.stderr)
    return json.loads(lines[0])


@pytest.fixture(scope="module")
def slow_services(shared_db):
    # Three services that answer after 0.3, 0.6 and 0.9 s: the check probes
    # them at once and reports as answers come in, so the reports come well
    # before the answer: the SDK hands notifications to their handlers a
    # microtask later than responses, and drops a report that arrives
    # together with the answer.
    slow = [H.SlowServer(0.3 * (i + 1)) for i in range(3)]
    try:
        for name, srv in zip(("slow-a", "slow-b", "slow-c"), slow):
            H.cli(shared_db, "services", "add", name, "--url", f"http://{H.HOST}:{srv.port}")
        yield
    finally:
        for srv in slow:
            srv.stop()


@pytest.fixture(scope="module")
def seen(daemon, shared_db, slow_services):
    return run_client(daemon, shared_db)


@pytest.mark.parametrize("transport", ["streamable", "sse", "stdio"])
def test_sdk_session(seen, transport, shared_db, library_tools):
    check_session(seen[transport], shared_db, library_tools)


def test_sdk_streamable_at_sse_beside_legacy(daemon, shared_db, slow_services, library_tools):
    """The original server's Open WebUI setup (Streamable HTTP at /sse) and an
    old SSE client on the same /sse, at the same time: both are served."""
    seen = run_client(daemon, shared_db, only="streamable_sse,sse", concurrent=True)
    for transport in ("streamable_sse", "sse"):
        check_session(seen[transport], shared_db, library_tools)
    s = seen["streamable_sse"]
    assert s["protocolVersion"] == "2025-11-25" and s["sessionId"]
    assert s["terminated"] is None  # DELETE /sse ended the session
    assert seen["sse"]["protocolVersion"] is None or seen["sse"]["protocolVersion"] == "2024-11-05"


def check_session(s, shared_db, library_tools):
    assert "failed" not in s, s["failed"]
    assert s["server"] == "homelab-mcpd"
    assert "tools" in s["capabilities"]
    assert s["tools"] == library_tools["__order__"]
    assert s["toolsWithOutputSchema"] == len(library_tools["__order__"])
    expected_vms = H.cli_json(shared_db, "tools", "call", "homelab_list_vms")
    assert s["list_vms"]["isError"] is False
    assert s["list_vms"]["structured"] == expected_vms
    assert json.loads(s["list_vms"]["text"]) == expected_vms
    assert s["list_vms"]["contentTypes"] == ["text"]
    expected_vm = H.cli_json(shared_db, "tools", "call", "homelab_get_vm", "name=whisper")
    assert s["get_vm"]["isError"] is False
    assert s["get_vm"]["structured"] == expected_vm
    assert json.loads(s["get_vm"]["text"]) == expected_vm
    # progress: one report per service, in order, then the result
    check = s["check_all"]
    assert check["isError"] is False and check["structured"]["count"] == 6, check
    assert check["structured"]["healthy"] == 3, check
    assert [p["progress"] for p in check["progress"]] == [0, 1, 2, 3, 4, 5], check
    assert all(p["total"] == 6 for p in check["progress"]), check
    assert [p["message"] for p in check["progress"]] == [
        f"checking {svc['service_name']}" for svc in check["structured"]["services"]], check
    assert s["failing"] == {"isError": True, "text": "vm 'nosuch' not found"}
    assert s["unknown_tool"]["threw"] is True
    assert s["unknown_tool"]["code"] == -32602, s["unknown_tool"]
    assert s["ping"] == {}
    # resources, prompts, completion: the demo inventory, through the library's tables
    assert s["resources"][:2] == ["homelab://inventory", "homelab://audit/recent"], s["resources"]
    vms = [v["name"] for v in expected_vms["vms"]]
    assert [u for u in s["resources"] if u.startswith("homelab://vms/")] == sorted(f"homelab://vms/{n}" for n in vms)
    assert s["resourceTemplates"] == ["homelab://vms/{name}", "homelab://hosts/{name}", "homelab://services/{name}"]
    assert s["readWhisper"] == {"mimeType": "application/json", "json": expected_vm}
    assert {"name": "diagnose_vm", "args": ["vm"]} in s["prompts"]
    assert {"name": "tune_modelfile", "args": ["model", "change"]} in s["prompts"]
    assert len(s["diagnose"]) == 1 and s["diagnose"][0]["role"] == "user" and s["diagnose"][0]["type"] == "text"
    assert "homelab_get_vm (name or vm_id whisper)" in s["diagnose"][0]["text"]
    assert s["completeVm"] == {"values": sorted(n for n in vms if n.lower().startswith("s")),
                               "total": len([n for n in vms if n.lower().startswith("s")]), "hasMore": False}


def test_sdk_streamable_negotiates_latest(seen):
    s = seen["streamable"]
    assert s["protocolVersion"] == "2025-11-25"  # the SDK's LATEST_PROTOCOL_VERSION
    assert s["sessionId"]
    assert s["terminated"] is None  # terminateSession() (DELETE) succeeded


def test_sdk_stdio_stderr_clean(seen):
    assert H.sanitizer_report(seen["stdio"]["stderr"]) is None, seen["stdio"]["stderr"]


def test_sdk_with_bearer_token(start_daemon, demo_db):
    tok = H.create_token(demo_db, "sdk", "inventory:read")
    d = start_daemon(db=demo_db)
    seen = run_client(d, demo_db, only="streamable,streamable_sse,sse", token=tok)
    for transport in ("streamable", "streamable_sse", "sse"):
        s = seen[transport]
        assert "failed" not in s, (transport, s)
        assert s["get_vm"]["structured"]["vm_id"] == 101
    seen = run_client(d, demo_db, only="streamable,streamable_sse")
    for transport in ("streamable", "streamable_sse"):
        assert "failed" in seen[transport], seen
        assert seen[transport]["failed"]["code"] == 401, seen
