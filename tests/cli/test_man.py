"""Man pages homelab(1) and homelab-mcpd(8) (issue 11): every command,
subcommand and option the programs accept, every environment variable the
sources read and every exit code is in its page; `man -l` renders both
without a warning; cmake --install puts them under share/man."""
import os
import re
import subprocess

import pytest

from conftest import HOMELAB

SRC = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
PAGES = {"homelab": os.path.join(SRC, "man", "homelab.1"), "homelab-mcpd": os.path.join(SRC, "man", "homelab-mcpd.8")}
MCPD = os.path.join(os.path.dirname(os.path.abspath(HOMELAB)), "homelab-mcpd")
OPTION = re.compile(r"(?<![\w-])(--[a-z][a-z0-9-]*|-[a-z])(?![\w-])")


def render(page):
    env = dict(os.environ, MANWIDTH="120", LANG="C.UTF-8", LC_ALL="C.UTF-8", MANPAGER="cat", PAGER="cat")
    env.pop("MAN_KEEP_FORMATTING", None)
    r = subprocess.run(["man", "--warnings", "-l", page], capture_output=True, text=True, env=env)
    return r


def text(page):
    out = render(page).stdout
    # groff's hyphen and minus glyphs, and spaces of adjusted lines
    out = out.replace("\u2010", "-").replace("\u2212", "-").replace("\u2011", "-")
    return re.sub(r"[ \t]+", " ", out)


def help_of(*args):
    r = subprocess.run([HOMELAB] + list(args), capture_output=True, text=True)
    assert r.returncode == 0, r
    return r.stdout


def groups():
    out = help_of("--help")
    return re.findall(r"^ ([a-z]+) ", out.split("Commands:\n")[1].split("\n\n")[0].replace("  ", " "), re.M)


@pytest.mark.parametrize("page", sorted(PAGES))
def test_renders_without_warnings(page):
    r = render(PAGES[page])
    assert r.returncode == 0 and r.stderr == "", r.stderr
    assert len(r.stdout.splitlines()) > 50
    r = subprocess.run(["groff", "-man", "-ww", "-z", "-Tutf8", PAGES[page]], capture_output=True, text=True)
    assert r.returncode == 0 and r.stderr == "", r.stderr


def test_homelab_page_has_every_command_and_option():
    page = text(PAGES["homelab"])
    top = help_of("--help")
    missing = [o for o in set(OPTION.findall(top)) if o not in page]
    gs = groups()
    assert "vms" in gs and "ollama" in gs and "completion" in gs
    for g in gs:
        h = help_of(g, "--help")
        assert re.search(rf"(^|\n) *{g}\b", page), f"command {g}"
        for line in h.splitlines():
            m = re.match(rf"\s+homelab {g} ([a-z][a-z-]*)\b", line)
            if m and f"{g} {m.group(1)}" not in page:
                missing.append(f"{g} {m.group(1)}")
        for o in set(OPTION.findall(h)):
            if o not in page:
                missing.append(f"{g}: {o}")
    assert not missing, missing


def test_mcpd_page_has_every_option():
    page = text(PAGES["homelab-mcpd"])
    r = subprocess.run([MCPD, "--help"], capture_output=True, text=True)
    assert r.returncode == 0
    opts = set(OPTION.findall(r.stdout))
    assert {"--peer-connections", "--request-timeout-s", "--stdio", "--port-file"} <= opts
    assert [o for o in opts if o not in page] == []
    for ep in ("/mcp", "/sse", "/messages", "/healthz", "/metrics"):
        assert ep in page


def environment_read_by(dirs):
    names = set()
    for d in dirs:
        for root, _, files in os.walk(os.path.join(SRC, d)):
            for f in files:
                if f.endswith((".c", ".h")):
                    with open(os.path.join(root, f), errors="replace") as fh:
                        names |= set(re.findall(r'(?:getenv|env_long|env_int|env_double)\("([A-Z_]+)"', fh.read()))
    return names


def test_every_environment_variable_is_documented():
    lib = environment_read_by(["libhomelab/src"])
    cli = environment_read_by(["cli"])
    mcpd = environment_read_by(["mcpd"])
    assert {"HOMELAB_DB_PATH", "HOMELAB_DB_KEY", "NO_COLOR", "MCP_PORT"} <= lib | cli | mcpd
    section = lambda t: t.split("ENVIRONMENT", 1)[1].split("\nFILES", 1)[0]  # noqa: E731
    env1, env8 = section(text(PAGES["homelab"])), section(text(PAGES["homelab-mcpd"]))
    assert sorted(n for n in lib | cli | {"XDG_STATE_HOME"} if n not in env1) == []
    assert sorted(n for n in lib | mcpd if n not in env8) == []


def test_exit_codes_and_files():
    page = text(PAGES["homelab"])
    exits = page.split("EXIT STATUS", 1)[1].split("EXAMPLES", 1)[0]
    codes = re.findall(r"\b(\d+) [a-z]", help_of("--help").split("Exit codes:", 1)[1])
    assert {"0", "1", "2", "3", "130"} <= set(codes)
    for code in codes:
        assert re.search(rf"^ *{code}\b", exits, re.M), code
    files = page.split("\nFILES", 1)[1].split("EXIT STATUS", 1)[0]
    for f in ("homelab.db", "history", "known_hosts", "audit-key", "bash-completion/completions/homelab"):
        assert f in files, f
    mexits = text(PAGES["homelab-mcpd"]).split("EXIT STATUS", 1)[1]
    for code in ("0", "1", "2"):
        assert re.search(rf"^ *{code}\b", mexits, re.M), code


def test_cmake_install_puts_the_pages_under_share_man(tmp_path):
    build = os.path.dirname(os.path.abspath(HOMELAB))
    r = subprocess.run(["cmake", "--install", build, "--prefix", str(tmp_path)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    for page, section in (("homelab", "1"), ("homelab-mcpd", "8")):
        installed = tmp_path / "share" / "man" / f"man{section}" / f"{page}.{section}"
        assert installed.read_bytes() == open(PAGES[page], "rb").read()
    env = dict(os.environ, MANPATH=str(tmp_path / "share" / "man"), MANPAGER="cat", MANWIDTH="100")
    r = subprocess.run(["man", "homelab"], capture_output=True, text=True, env=env)
    assert r.returncode == 0
    assert "homelab - manage a homelab" in re.sub(r"\s+", " ", r.stdout.replace("\u2010", "-").replace("\u2212", "-"))
