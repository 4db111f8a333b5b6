"""Tools that answer with MCP content blocks (HL_TOOL_CONTENT), as a program
linking libhomelab registers them: the conformance suite's fixture module
(tests/conformance/fixtures.c) preloaded into the CLI. Text blocks print as
text, images and audio by type and decoded size, embedded resources with
their URI and text; an error result goes to stderr with exit 1."""
import base64
import json
import os
import re

import pytest


@pytest.fixture
def fx(demo):
    build = os.environ.get("HOMELAB_BUILD_DIR", "")
    module = os.environ.get("HOMELAB_CONFORMANCE_MODULE") or os.path.join(build, "tests",
                                                                          "libhl_conformance_fixtures.so")
    assert os.path.isfile(module), f"{module} is missing: build the tests (target hl_conformance_fixtures)"
    runtime = os.environ.get("HOMELAB_SANITIZER_RUNTIME")
    env = {"LD_PRELOAD": ":".join(([runtime] if runtime else []) + [module])}
    return lambda *args: demo(*args, env=env)


def test_text_image_audio_and_resources(fx):
    r = fx("tools", "call", "test_simple_text")
    assert (r.rc, r.out) == (0, "This is a simple text response for testing.\n")
    r = fx("tools", "call", "test_multiple_content_types")
    lines = r.out.splitlines()
    assert r.rc == 0 and lines[0] == "Multiple content types test:"
    image = json.loads(fx("--json", "tools", "call", "test_image_content").out)["content"][0]
    size = len(base64.b64decode(image["data"]))
    assert lines[1] == f"[image image/png, {size} bytes]"
    assert lines[2:] == ["[resource test://mixed-content-resource application/json]", '{"test":"data","value":123}']
    r = fx("tools", "call", "test_audio_content")
    audio = json.loads(fx("--json", "tools", "call", "test_audio_content").out)["content"][0]
    assert r.out == f"[audio audio/wav, {len(base64.b64decode(audio['data']))} bytes]\n"
    r = fx("tools", "call", "test_embedded_resource")
    assert r.out == "[resource test://embedded-resource text/plain]\nThis is an embedded resource content.\n"


def test_error_result_is_exit_1_on_stderr(fx):
    r = fx("tools", "call", "test_error_handling")
    assert (r.rc, r.out) == (1, "")
    assert r.err == "homelab: the tool reports an error:\nThis tool intentionally returns an error for testing\n"
    r = fx("--json", "tools", "call", "test_error_handling")
    assert r.rc == 1 and json.loads(r.out)["isError"] is True


def test_registered_tools_are_listed_beside_the_built_in_ones(fx, demo):
    names = fx("tools", "list").out
    assert re.search(r"^test_simple_text\b", names, re.M) and re.search(r"^homelab_list_vms\b", names, re.M)
    assert "test_simple_text" not in demo.ok("tools", "list").out  # only where a program registered them
