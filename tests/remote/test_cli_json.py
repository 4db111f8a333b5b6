"""`homelab gpu --json` (issue 11): for every case of the stand-in nvidia-smi
that succeeds, the CLI's JSON is checked against whisper_gpu_status's output
schema (tests/cli/schema_check.py)."""
import json
import os
import sys

import pytest

from conftest import FIXTURES, HOMELAB

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "cli"))
import schema_check  # noqa: E402

CASES = [c for c in json.loads((FIXTURES / "nvidia-smi" / "cases.json").read_text())["cases"]
         if c["query"] == "gpu" and "gpus" in c]


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_gpu_json_matches_the_tool_schema(cli, trusted, gpu_case, case):
    gpu_case(case["name"])
    r = cli("--json", "gpu", "whisper")
    assert r.rc == 0, r
    out = json.loads(r.out)
    assert out["count"] == len(case["gpus"])
    schema_check.check(HOMELAB, "whisper_gpu_status", out)


def test_files_json_matches_the_tool_schemas(cli, trusted, tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    (root / "a.txt").write_text("hello\n")
    (root / "sub").mkdir()
    cli.ok("vms", "set", "whisper", "--file-root", root)
    r = cli.ok("--json", "files", "ls", "whisper", root)
    schema_check.check(HOMELAB, "whisper_list_files", json.loads(r.out))
    assert {e["name"] for e in json.loads(r.out)["entries"]} >= {"a.txt", "sub"}
    r = cli.ok("--json", "--yes", "files", "put", "whisper", str(root / "b.txt"), input="new\n")
    schema_check.check(HOMELAB, "whisper_write_file", json.loads(r.out))
    r = cli.ok("--json", "tools", "call", "whisper_read_file", "target=whisper", f"file_path={root / 'a.txt'}")
    schema_check.check(HOMELAB, "whisper_read_file", json.loads(r.out))


def test_ssh_command_json_matches_the_tool_schema(cli, trusted):
    r = cli.ok("--json", "--yes", "tools", "call", "whisper_ssh_command", "target=whisper", "command=echo hi; exit 3")
    out = json.loads(r.out)
    schema_check.check(HOMELAB, "whisper_ssh_command", out)
    assert out["exit_status"] == 3 and out["stdout"] == "hi\n"
