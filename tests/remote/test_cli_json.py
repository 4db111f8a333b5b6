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
