"""Ollama tools through homelab-mcpd with the official MCP SDK client
(tests/mcp/sdk_ollama.mjs): a pull's progress arrives as
notifications/progress before the answer; an {"error"} line is a tool error;
a token without ollama:write cannot pull (and nothing reaches Ollama).
The Ollama API is the double of tests/ollama, on 127.0.0.1."""
import json
import os
import shutil
import subprocess
import sys

import pytest

import mcp_helpers as H

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "ollama"))
from ollama_double import DIGESTS, LAYER_SIZES, OllamaDouble  # noqa: E402


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    work = tmp_path_factory.mktemp("ollama")
    double = OllamaDouble().start()
    db = str(work / "homelab.db")
    H.cli(db, "db", "init")
    H.cli(db, "vms", "add", "whisper", "--ip", "127.0.0.1")
    H.cli(db, "services", "add", "ollama", "--vm", "whisper", "--url", double.url)
    tokens = {"puller": H.create_token(db, "puller", "ollama:write"),
              "reader": H.create_token(db, "reader", "ollama:read")}
    d = H.Daemon(work / "mcpd", db=db)
    yield d, double, tokens
    d.stop_and_check()
    double.stop()


def sdk_pull(lab, token, model):
    d, _, _ = lab
    node = shutil.which("node")
    assert node, "node is not installed (Node.js is a test dependency: see DESIGN.md)"
    assert os.path.isdir(os.path.join(HERE, "node_modules", "@modelcontextprotocol", "sdk")), \
        "tests/mcp/node_modules is missing: run scripts/install-npm-deps.sh"
    proc = subprocess.run([node, "sdk_ollama.mjs", "--url", d.url, "--token", token, "--model", model],
                          cwd=HERE, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
                          env=H.clean_env())
    lines = proc.stdout.strip().splitlines()
    assert proc.returncode == 0 and len(lines) == 1, (proc.returncode, proc.stdout, proc.stderr)
    return json.loads(lines[0])


def test_pull_progress_reaches_the_sdk_client(lab):
    _, double, tokens = lab
    # "slow" sends a line every 0.15 s, so reports are not sent together
    # with the answer (the SDK drops those)
    seen = sdk_pull(lab, tokens["puller"], "slow")
    assert seen["error"] is None, seen
    r = seen["result"]
    assert r["isError"] is None or r["isError"] is False, r
    assert r["structured"]["status"] == "success" and r["structured"]["bytes"] == sum(LAYER_SIZES)
    assert json.loads(r["text"]) == r["structured"]
    progress = seen["progress"]
    messages = [p.get("message") for p in progress]
    assert len(progress) >= 8, progress
    assert "pulling manifest" in messages and f"pulling {DIGESTS[0][:12]}" in messages
    assert f"pulling {DIGESTS[2][:12]}" in messages
    done = [p["progress"] for p in progress]
    assert done == sorted(done) and max(done) >= LAYER_SIZES[0]
    assert all(p.get("total", 0) >= p["progress"] for p in progress if p["progress"])
    assert "slow:latest" in double.models


def test_error_line_is_a_tool_error(lab):
    _, _, tokens = lab
    seen = sdk_pull(lab, tokens["puller"], "nosuchmodel")
    assert seen["error"] is None and seen["result"]["isError"] is True, seen
    assert "pull model manifest: file does not exist" in seen["result"]["text"]


def test_a_token_without_ollama_write_cannot_pull(lab):
    _, double, tokens = lab
    before = len(double.paths())
    seen = sdk_pull(lab, tokens["reader"], "gemma:7b")
    assert seen["result"] is None, seen
    # HTTP 403 with the JSON-RPC error (-32003) naming the missing scope
    assert seen["error"]["code"] == 403 and '"code":-32003' in seen["error"]["message"], seen
    assert "lacks the scope ollama:write that tool ollama_pull_model needs" in seen["error"]["message"]
    assert double.paths()[before:] == []  # nothing reached Ollama
    assert "gemma:7b" not in double.models
