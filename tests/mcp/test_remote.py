"""The remote tools (SSH, SFTP, GPU) through homelab-mcpd with the official
MCP SDK client over Streamable HTTP, against the private sshd of
tests/remote (sshd_helper.py) on 127.0.0.1: tools/list shows them, calls
work, a token without ssh:exec is refused whisper_ssh_command (and nothing
runs), and a long command's output lines arrive as notifications/progress
before the answer."""
import json
import os
import shutil
import subprocess
import sys

import pytest

import mcp_helpers as H

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "remote"))
from sshd_helper import Sshd  # noqa: E402

# The SDK client, inlined so that this file is the only one it needs: it
# prints one JSON line with the tools it listed, the progress it got, and
# the result or the error of one call.
SDK_CLIENT = r"""
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
const [url, token, name, args] = process.argv.slice(1);
const out = { tools: [], progress: [], result: null, error: null };
const client = new Client({ name: "homelab-remote-test", version: "1.0.0" });
const transport = new StreamableHTTPClientTransport(new URL("/mcp", url),
	{ requestInit: { headers: { Authorization: `Bearer ${token}` } } });
try {
	await client.connect(transport);
	out.tools = (await client.listTools()).tools.map((t) => ({ name: t.name, annotations: t.annotations ?? null }));
	const r = await client.callTool({ name, arguments: JSON.parse(args) }, undefined,
		{ onprogress: (p) => out.progress.push(p), timeout: 30000 });
	out.result = { isError: r.isError ?? null, structured: r.structuredContent ?? null,
		text: r.content && r.content[0] ? r.content[0].text : null };
} catch (e) {
	out.error = { code: e && typeof e.code === "number" ? e.code : null, message: String(e && e.message ? e.message : e) };
}
await client.close().catch(() => {});
process.stdout.write(JSON.stringify(out) + "\n");
process.exit(0);
"""


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    work = tmp_path_factory.mktemp("remote")
    server = Sshd(work / "sshd")
    server.start()
    kh = work / "known_hosts"
    kh.write_text(server.known_hosts_line())
    root = work / "root"
    root.mkdir()
    db = str(work / "homelab.db")
    H.cli(db, "db", "init")
    H.cli(db, "vms", "add", "whisper", "--ip", "127.0.0.1", "--ssh-port", server.port, "--ssh-user", "root",
          "--file-root", root)
    tokens = {"exec": H.create_token(db, "exec", "ssh:exec"),
              "reader": H.create_token(db, "reader", "files:read"),
              "writer": H.create_token(db, "writer", "files:write")}
    home = work / "home"
    home.mkdir()
    env = {"HOMELAB_KNOWN_HOSTS": str(kh), "HOMELAB_SSH_KEY": str(server.user_key), "HOME": str(home)}
    d = H.Daemon(work / "mcpd", db=db, env=env)
    yield d, server, tokens, root, work
    d.stop_and_check()
    server.stop()


def sdk_call(lab, token, name, args):
    d = lab[0]
    node = shutil.which("node")
    assert node, "node is not installed (Node.js is a test dependency: see DESIGN.md)"
    assert os.path.isdir(os.path.join(HERE, "node_modules", "@modelcontextprotocol", "sdk")), \
        "tests/mcp/node_modules is missing: run scripts/install-npm-deps.sh"
    proc = subprocess.run([node, "--input-type=module", "-e", SDK_CLIENT, d.url, token, name, json.dumps(args)],
                          cwd=HERE, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
                          env=H.clean_env())
    lines = proc.stdout.strip().splitlines()
    assert proc.returncode == 0 and len(lines) == 1, (proc.returncode, proc.stdout, proc.stderr)
    return json.loads(lines[0])


def test_tools_listed_and_command_runs(lab):
    _, server, tokens, _, _ = lab
    seen = sdk_call(lab, tokens["exec"], "whisper_ssh_command", {"command": "echo hi; exit 4"})
    assert seen["error"] is None, seen
    names = {t["name"]: t["annotations"] for t in seen["tools"]}
    # tools/list shows what the token's scope allows
    assert {"whisper_ssh_command", "whisper_gpu_status"} <= set(names), names
    assert names["whisper_ssh_command"]["destructiveHint"] is True
    assert names["whisper_gpu_status"]["readOnlyHint"] is True
    r = seen["result"]
    assert r["structured"]["stdout"] == "hi\n" and r["structured"]["exit_status"] == 4
    assert json.loads(r["text"]) == r["structured"]   # the text content carries all of it (Open WebUI)


def test_token_without_ssh_exec_is_refused(lab):
    _, _, tokens, _, work = lab
    marker = work / "ran"
    seen = sdk_call(lab, tokens["reader"], "whisper_ssh_command", {"command": f"touch {marker}"})
    assert seen["result"] is None, seen
    assert seen["error"]["code"] == 403 and '"code":-32003' in seen["error"]["message"], seen
    assert "ssh:exec" in seen["error"]["message"]
    assert not marker.exists()


def test_progress_lines_arrive_before_the_answer(lab):
    _, _, tokens, _, _ = lab
    seen = sdk_call(lab, tokens["exec"], "whisper_ssh_command",
                    {"command": "for i in 1 2 3 4 5; do echo line$i; sleep 0.2; done"})
    assert seen["error"] is None, seen
    messages = [p.get("message") for p in seen["progress"]]
    assert messages == ["line1", "line2", "line3", "line4", "line5"], seen["progress"]
    assert seen["result"]["structured"]["stdout"].count("\n") == 5


def test_files_through_the_daemon(lab):
    _, _, tokens, root, _ = lab
    seen = sdk_call(lab, tokens["writer"], "whisper_write_file", {"file_path": "m.txt", "content": "via mcp\n"})
    assert seen["error"] is None and seen["result"]["structured"]["created"] is True, seen
    assert (root / "m.txt").read_text() == "via mcp\n"
    seen = sdk_call(lab, tokens["reader"], "whisper_read_file", {"file_path": "m.txt"})
    assert seen["result"]["structured"]["content"] == "via mcp\n", seen
    listed = {t["name"]: t["annotations"] for t in seen["tools"]}
    assert {"whisper_list_files", "whisper_read_file"} <= set(listed), listed
    assert listed["whisper_read_file"]["readOnlyHint"] is True
    seen = sdk_call(lab, tokens["reader"], "whisper_write_file", {"file_path": "n.txt", "content": "x"})
    assert seen["error"]["code"] == 403 and not (root / "n.txt").exists(), seen
    seen = sdk_call(lab, tokens["reader"], "whisper_read_file", {"file_path": "/etc/passwd"})
    assert seen["result"]["isError"] is True and "outside the allowed roots" in seen["result"]["text"], seen
