"""Finding the library, installing the package with pip, typing marker."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import homelab
from conftest import BINDINGS, SOURCE_DIR, subprocess_env

PY = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable


def run(code, env, cwd=None):
    return subprocess.run([PY, "-c", code], capture_output=True, text=True, env=env, cwd=cwd, timeout=120)


def copy_package(dest):
    """The package alone, outside the source tree (so no build tree is found)."""
    shutil.copytree(BINDINGS, dest, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    return dest


def test_library_from_env():
    assert homelab.library_path() == os.environ.get("HOMELAB_LIBRARY", homelab.library_path())


def test_bad_homelab_library_is_an_error_not_a_fallback(tmp_path):
    env = subprocess_env(HOMELAB_LIBRARY=str(tmp_path / "nope.so"))
    p = run("import homelab\n"
            "try:\n"
            "    homelab.Homelab(':memory:')\n"
            "except homelab.LibraryNotFoundError as e:\n"
            "    print(e)\n", env)
    assert p.returncode == 0, p.stderr
    assert "could not load libhomelab (HOMELAB_LIBRARY is set, so nothing else was tried)" in p.stdout
    assert str(tmp_path / "nope.so") + " (HOMELAB_LIBRARY: no such file)" in p.stdout


def test_not_found_lists_where_it_looked(tmp_path):
    pkg = copy_package(tmp_path / "pkg")
    env = subprocess_env(PYTHONPATH=str(pkg), HOMELAB_LIBRARY="", LD_LIBRARY_PATH=str(tmp_path))
    p = run("import homelab\n"
            "try:\n"
            "    homelab.tools()\n"
            "except homelab.LibraryNotFoundError as e:\n"
            "    assert isinstance(e, OSError)\n"
            "    print(e)\n", env, cwd=str(tmp_path))
    assert p.returncode == 0, p.stderr
    if "system loader" not in p.stdout:  # a libhomelab is installed system-wide
        pytest.skip("libhomelab.so.0 is installed on this system: " + p.stdout.strip())
    assert p.stdout.startswith("could not load libhomelab; looked in: ")
    assert "libhomelab.so.0 (system loader: " in p.stdout


def test_build_tree_is_found(tmp_path):
    # HOMELAB_LIBRARY unset, package in the source tree: a build directory's
    # library is used (build/ first, then build-*/).
    env = subprocess_env(HOMELAB_LIBRARY="")
    del env["HOMELAB_LIBRARY"]
    p = run("import homelab; print(homelab.library_path())", env)
    built = [SOURCE_DIR / "build" / "libhomelab.so.0"] + sorted(SOURCE_DIR.glob("build-*/libhomelab.so.0"))
    if not any(b.exists() for b in built):
        pytest.skip("no build directory in the source tree")
    assert p.returncode == 0, p.stderr
    found = Path(p.stdout.strip())
    assert found in built, p.stdout


def test_candidates_order(monkeypatch):
    from homelab import _lib
    monkeypatch.delenv("HOMELAB_LIBRARY", raising=False)
    c = [where for how, where in _lib.candidates()]
    assert c[0] == str(SOURCE_DIR / "build" / "libhomelab.so.0")
    assert c[-1] == "libhomelab.so.0"
    monkeypatch.setenv("HOMELAB_LIBRARY", str(SOURCE_DIR))
    assert [how for how, _ in _lib.candidates()] == ["HOMELAB_LIBRARY"] * 2


def test_pip_install(tmp_path):
    if subprocess.run([PY, "-m", "pip", "--version"], capture_output=True).returncode != 0:
        pytest.skip(f"pip is not available for {PY} (Debian: apt-get install python3-pip)")
    src = copy_package(tmp_path / "src")  # pip builds in place: keep the tree clean
    target = tmp_path / "site"
    env = dict(os.environ, PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
    # plain `pip install bindings/python`, build isolation included: the in-tree
    # backend needs nothing from an index (and none is reachable)
    p = subprocess.run([PY, "-m", "pip", "install", "--no-deps", "--no-index",
                        "--target", str(target), str(src)], capture_output=True, text=True, env=env, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    assert (target / "homelab" / "__init__.py").is_file()
    assert (target / "homelab" / "py.typed").is_file()
    assert list(target.glob("homelab-0.1.0.dist-info"))
    record = (target / "homelab-0.1.0.dist-info" / "RECORD").read_text()
    assert "homelab/client.py,sha256=" in record and "homelab/py.typed,sha256=" in record
    env = subprocess_env(PYTHONPATH=str(target))
    p = run("import homelab, sys\n"
            "assert homelab.__file__.startswith(%r), homelab.__file__\n"
            "with homelab.Homelab(':memory:') as hl:\n"
            "    hl.load_demo()\n"
            "    print(hl.get_vm(name='whisper')['ip'])\n" % str(target), env, cwd=str(tmp_path))
    assert p.returncode == 0, p.stderr
    assert p.stdout == "127.0.1.201\n"


def test_typed():
    assert (BINDINGS / "homelab" / "py.typed").is_file()
    import typing
    hints = typing.get_type_hints(homelab.Homelab.call)
    assert hints["return"] == typing.Dict[str, typing.Any]


def test_sanitized_library_without_the_asan_runtime_is_refused_politely(tmp_path):
    # dlopen() of an ASan-built library into a plain python would abort the
    # process; the binding notices first and says what to preload.
    if "asan" in os.environ.get("LD_PRELOAD", ""):
        pytest.skip("the ASan runtime is preloaded in this run")
    fake = tmp_path / "libhomelab.so.0"
    fake.write_bytes(b"\x7fELF" + b"\0" * 64 + b"libasan.so.8\0" + b"\0" * 64)
    p = run("import homelab\n"
            "try:\n"
            "    homelab.tools()\n"
            "except homelab.LibraryNotFoundError as e:\n"
            "    print(e)\n", subprocess_env(HOMELAB_LIBRARY=str(tmp_path)))
    assert p.returncode == 0, p.stderr
    assert "built with AddressSanitizer, and the ASan runtime is not loaded" in p.stdout
    assert "LD_PRELOAD=$(gcc -print-file-name=libasan.so) ASAN_OPTIONS=detect_leaks=0" in p.stdout


def test_sdist_and_wheel_from_the_backend(tmp_path):
    """The in-tree backend builds an sdist and a wheel with the package's files."""
    import sys
    import tarfile
    import zipfile
    sys.path.insert(0, str(BINDINGS / "_build"))
    try:
        import homelab_build
    finally:
        sys.path.pop(0)
    assert homelab_build.get_requires_for_build_wheel() == []
    whl = homelab_build.build_wheel(str(tmp_path))
    assert whl == "homelab-0.1.0-py3-none-any.whl"
    names = zipfile.ZipFile(tmp_path / whl).namelist()
    assert {"homelab/__init__.py", "homelab/py.typed", "homelab-0.1.0.dist-info/METADATA",
            "homelab-0.1.0.dist-info/RECORD"} <= set(names)
    assert not any("__pycache__" in n for n in names)
    sdist = homelab_build.build_sdist(str(tmp_path))
    members = tarfile.open(tmp_path / sdist).getnames()
    assert "homelab-0.1.0/pyproject.toml" in members and "homelab-0.1.0/_build/homelab_build.py" in members
    assert "homelab-0.1.0/PKG-INFO" in members
