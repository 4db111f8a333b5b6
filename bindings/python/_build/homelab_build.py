"""A minimal PEP 517 build backend for the pure-Python `homelab` package.

It needs nothing but the standard library, so `pip install bindings/python`
works with pip's default build isolation on a machine that cannot reach
PyPI (pip would otherwise fetch setuptools into the isolated environment).
It builds a wheel (and an sdist) of the `homelab/` directory; the metadata
comes from pyproject.toml.
"""
import base64
import hashlib
import io
import os
import re
import tarfile
import zipfile

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = "homelab"


def _project():
    """name, version, summary and requires-python from pyproject.toml."""
    text = open(os.path.join(HERE, "pyproject.toml"), encoding="utf-8").read()
    section = text.split("[project]", 1)[1].split("\n[", 1)[0]

    def field(key):
        m = re.search(r'^%s\s*=\s*"([^"]*)"' % re.escape(key), section, re.M)
        if not m:
            raise RuntimeError("pyproject.toml: [project] %s is missing" % key)
        return m.group(1)
    return field("name"), field("version"), field("description"), field("requires-python")


def _metadata():
    name, version, summary, requires = _project()
    readme = open(os.path.join(HERE, "README.md"), encoding="utf-8").read()
    return (f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nSummary: {summary}\n"
            f"Requires-Python: {requires}\nClassifier: Programming Language :: Python :: 3\n"
            f"Classifier: Operating System :: POSIX :: Linux\nClassifier: Typing :: Typed\n"
            f"Description-Content-Type: text/markdown\n\n{readme}")


def _files():
    """The package's files, relative to HERE, in a stable order."""
    out = []
    for root, dirs, files in os.walk(os.path.join(HERE, PACKAGE)):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for f in sorted(files):
            if f.endswith((".py", ".typed")):
                out.append(os.path.relpath(os.path.join(root, f), HERE))
    return out


def _record_line(path, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{path},sha256={digest},{len(data)}"


def _dist_info(name, version):
    return f"{name}-{version}.dist-info"


def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def get_requires_for_build_editable(config_settings=None):
    return []


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    name, version, _, _ = _project()
    d = os.path.join(metadata_directory, _dist_info(name, version))
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "METADATA"), "w", encoding="utf-8") as f:
        f.write(_metadata())
    return os.path.basename(d)


def _wheel(wheel_directory, members):
    """Write a py3-none-any wheel holding members [(archive path, bytes)]."""
    name, version, _, _ = _project()
    info = _dist_info(name, version)
    members = list(members) + [
        (f"{info}/METADATA", _metadata().encode()),
        (f"{info}/WHEEL", b"Wheel-Version: 1.0\nGenerator: homelab_build\nRoot-Is-Purelib: true\nTag: py3-none-any\n"),
    ]
    record = "\n".join(_record_line(p, d) for p, d in members) + f"\n{info}/RECORD,,\n"
    filename = f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(os.path.join(wheel_directory, filename), "w", zipfile.ZIP_DEFLATED) as z:
        for path, data in members + [(f"{info}/RECORD", record.encode())]:
            zi = zipfile.ZipInfo(path, date_time=(2020, 1, 1, 0, 0, 0))
            zi.external_attr = 0o644 << 16
            z.writestr(zi, data, zipfile.ZIP_DEFLATED)
    return filename


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    return _wheel(wheel_directory, [(p, open(os.path.join(HERE, p), "rb").read()) for p in _files()])


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    # a .pth file that puts this directory on sys.path
    return _wheel(wheel_directory, [(f"{PACKAGE}_editable.pth", (HERE + "\n").encode())])


def build_sdist(sdist_directory, config_settings=None):
    name, version, _, _ = _project()
    base = f"{name}-{version}"
    filename = f"{base}.tar.gz"
    with tarfile.open(os.path.join(sdist_directory, filename), "w:gz", format=tarfile.PAX_FORMAT) as tar:
        for p in ["pyproject.toml", "README.md", "_build/homelab_build.py"] + _files():
            tar.add(os.path.join(HERE, p), arcname=f"{base}/{p}")
        pkg_info = _metadata().encode()
        ti = tarfile.TarInfo(f"{base}/PKG-INFO")
        ti.size = len(pkg_info)
        tar.addfile(ti, io.BytesIO(pkg_info))
    return filename
