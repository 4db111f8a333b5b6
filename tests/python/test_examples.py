"""Every examples/python/*.py runs, against a temporary database, and says what it should."""
import subprocess
import sys

import pytest

from conftest import SOURCE_DIR, subprocess_env

EXAMPLES = sorted((SOURCE_DIR / "examples" / "python").glob("*.py"))

# Lines each example must print (an example without an entry must just run).
EXPECT = {
    "inventory.py": ["101 whisper 127.0.1.201 running on pve", "127.0.1.201 is held by vm, allocation",
                     "allocated 127.0.1.2 to example"],
    "error_handling.py": ["not found: vm 'atlantis' not found [HL_ENOTFOUND]",
                          "closed: the Homelab handle is closed"],
    "progress.py": ["  chunk 4/4 (100%)", "cancelled: gave up after 2 chunks"],
    "list_tools.py": ["hl.get_service(*, name: str) -> Dict[str, Any]"],
}


def test_there_are_examples():
    assert len(EXAMPLES) >= 4


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_runs(path, tmp_path):
    p = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=120,
                       env=subprocess_env(), cwd=str(tmp_path))
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    for want in EXPECT.get(path.name, []):
        assert want in lines, (want, p.stdout)
    assert "Traceback" not in p.stderr
