"""whisper_gpu_status end to end: the stand-in nvidia-smi (tests/fixtures/
nvidia-smi/fake-nvidia-smi) on the PATH of the private sshd's sessions, every
case of the fixtures through SSH and the parser, compared with what each
case must give."""
import json

import pytest

import homelab
from conftest import FIXTURES

CASES = json.loads((FIXTURES / "nvidia-smi" / "cases.json").read_text())["cases"]
GPU_CASES = [c for c in CASES if c["query"] == "gpu"]
APPS_CASES = [c for c in CASES if c["query"] == "apps"]


@pytest.mark.parametrize("case", GPU_CASES, ids=[c["name"] for c in GPU_CASES])
def test_every_gpu_case_end_to_end(lab, gpu_case, case):
    gpu_case(case["name"])
    if "gpus" in case:
        r = lab.call("whisper_gpu_status")
        assert r["target"] == "whisper"
        assert r["count"] == len(case["gpus"])
        for i, (got, want) in enumerate(zip(r["gpus"], case["gpus"])):
            for k, v in want.items():
                if k == "index" and v is None and "its index null or its position" in case.get("note", ""):
                    assert got[k] in (None, i)  # the case allows either
                    continue
                assert got[k] == v, (case["name"], k)
    else:
        with pytest.raises(homelab.HomelabError) as e:
            lab.call("whisper_gpu_status")
        for text in case.get("error_mentions", []):
            assert text.lower() in str(e.value).lower(), (case["name"], str(e.value))
        assert str(e.value).startswith("whisper: ")


@pytest.mark.parametrize("case", APPS_CASES, ids=[c["name"] for c in APPS_CASES])
def test_processes_end_to_end(lab, gpu_case, case):
    gpu_case("rtx-2080-super," + case["name"])
    r = lab.call("whisper_gpu_status")
    procs = [p for g in r["gpus"] for p in (g["processes"] or [])] + r.get("unattached_processes", [])
    if "processes" in case:
        assert sorted(p["pid"] for p in procs) == sorted(p["pid"] for p in case["processes"])


def test_seed_keys_kept(lab, gpu_case):
    gpu_case("rtx-2080-super")
    r = lab.whisper_gpu_status(target="whisper")
    assert (r["utilization_percent"], r["memory_used_mb"], r["memory_total_mb"], r["temperature_celsius"]) == \
        (8, 819, 8192, 45)


def test_gpu_cli(cli, trusted, gpu_case):
    gpu_case("rtx-2080-super")
    r = cli.ok("--json", "tools", "call", "whisper_gpu_status")
    assert r.json()["gpus"][0]["name"] == "NVIDIA GeForce RTX 2080 SUPER"


def test_gpu_command_table_and_json(cli, trusted, gpu_case):
    gpu_case("four-gpus")
    r = cli.ok("gpu")
    lines = r.out.splitlines()
    assert lines[0].split()[:3] == ["GPU", "NAME", "UTIL"]
    assert len([ln for ln in lines[1:] if ln[:1].isdigit()]) == 4
    gpu_case("rtx-2080-super,apps-two")
    r = cli.ok("gpu", "whisper")
    assert "NVIDIA GeForce RTX 2080 SUPER" in r.out and "819 / 8192" in r.out and "45C" in r.out
    assert "pid 5268" in r.out and "ffmpeg" in r.out
    assert cli.ok("gpu", "whisper", "--json").json()["count"] == 1


def test_gpu_command_failure(cli, trusted, gpu_case):
    gpu_case("driver-not-loaded")
    r = cli("gpu")
    assert r.rc == 1 and "driver" in r.err.lower() and r.err.startswith("homelab: whisper: ")
    assert cli("gpu", "nosuch").rc == 3
