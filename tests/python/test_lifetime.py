"""close(), the context manager, __del__, and sharing a handle between threads."""
import gc
import os
import subprocess
import sys
import threading

import pytest

import homelab
from conftest import subprocess_env


def test_close_twice_and_closed_raises(db_path):
    hl = homelab.Homelab(db_path)
    assert not hl.closed and hl.db_path == db_path
    assert hl.schema_version == homelab.Homelab(db_path).schema_version > 0
    hl.close()
    hl.close()
    assert hl.closed
    assert repr(hl) == "<homelab.Homelab closed>"
    for action in (lambda: hl.list_vms(), lambda: hl.call("homelab_list_vms"), hl.load_demo,
                   lambda: hl.db_path, lambda: hl.readonly, hl.tools,
                   lambda: hl.validate("homelab_list_vms"), lambda: hl.__enter__()):
        with pytest.raises(homelab.ClosedError, match="^the Homelab handle is closed$"):
            action()


def test_file_names_that_are_not_utf8(tmp_path):
    """A database path is whatever the OS allows: str with surrogate escapes,
    bytes, or a Path, and db_path gives back the same str."""
    name = os.fsdecode(b"lab-\xe9.db")  # Latin-1 e-acute: not UTF-8
    path = os.path.join(str(tmp_path), name)
    with homelab.Homelab(path) as hl:
        hl.load_demo()
        assert hl.db_path == path
    assert os.path.exists(os.fsencode(path))
    with homelab.Homelab(os.fsencode(path)) as hl:
        assert hl.list_vms()["count"] == 3
    with homelab.Homelab(tmp_path / name) as hl:
        assert hl.db_path == path


def test_context_manager_closes(db_path):
    with homelab.Homelab(db_path) as hl:
        hl.load_demo()
        assert hl.list_vms()["count"] == 3
    assert hl.closed
    with pytest.raises(homelab.ClosedError):
        hl.list_hosts()
    with pytest.raises(ZeroDivisionError):
        with homelab.Homelab(db_path) as hl2:
            1 / 0
    assert hl2.closed


def test_module_level_table_works_without_a_handle():
    assert homelab.version().count(".") == 2
    assert homelab.tool("homelab_list_vms").method == "list_vms"


def test_del_never_raises():
    # Failed constructors, dropped handles and handles alive at interpreter
    # exit: nothing may be printed as "Exception ignored in".
    code = r"""
import gc, os, sys, tempfile
import homelab
d = tempfile.mkdtemp()
junk = os.path.join(d, "junk.db")
open(junk, "wb").write(b"x" * 4096)
try:
    homelab.Homelab(junk)
except homelab.CorruptError:
    pass
a = homelab.Homelab(os.path.join(d, "a.db"))
a.load_demo()
del a
gc.collect()
b = homelab.Homelab(os.path.join(d, "b.db"))
b.close()
del b
keep = homelab.Homelab(os.path.join(d, "c.db"))   # still open at exit
cycle = homelab.Homelab(os.path.join(d, "d.db"))
cycle.self_ref = cycle
del cycle
print("done")
"""
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=subprocess_env(),
                       timeout=60)
    assert p.returncode == 0, p.stderr
    assert p.stdout == "done\n"
    assert "Exception ignored" not in p.stderr and "Traceback" not in p.stderr, p.stderr


def test_handle_dropped_in_this_process(db_path, monkeypatch):
    # Dropping the last reference closes the context, quietly.
    closed, unraisable = [], []
    real_close = homelab.Homelab.close

    def counting_close(self):
        closed.append((id(self), self._ctx is not None))
        real_close(self)
    monkeypatch.setattr(homelab.Homelab, "close", counting_close)
    monkeypatch.setattr(sys, "unraisablehook", unraisable.append)
    gc.collect()  # handles of earlier tests go first
    closed.clear()
    hl = homelab.Homelab(db_path)
    mine = id(hl)
    del hl
    gc.collect()
    assert [(i, open_) for i, open_ in closed if i == mine] == [(mine, True)]
    assert unraisable == []


def test_shared_handle_is_serialised(demo):
    # One handle, many threads: the lock gives every caller a distinct address.
    got = []
    errors = []

    def worker(i):
        try:
            for _ in range(5):
                got.append(demo.allocate_ip(subnet="127.0.1.0/24", allocated_to=f"t{i}")["ip_address"])
                demo.list_vms()
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(got) == 40 and len(set(got)) == 40


def test_close_while_other_threads_call(db_path):
    with homelab.Homelab(db_path) as hl:
        hl.load_demo()
    hl = homelab.Homelab(db_path)
    stop = threading.Event()
    outcomes = []

    def worker():
        while not stop.is_set():
            try:
                hl.list_vms()
            except homelab.ClosedError:
                outcomes.append("closed")
                return

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    hl.close()
    stop.set()
    for t in threads:
        t.join()
    assert set(outcomes) <= {"closed"}


def test_one_handle_per_thread_on_one_file(db_path):
    with homelab.Homelab(db_path) as hl:
        hl.load_demo()
    got = []

    def worker(i):
        with homelab.Homelab(db_path) as mine:
            for _ in range(5):
                got.append(mine.allocate_ip(subnet="127.0.1.0/24", allocated_to=f"p{i}")["ip_address"])

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 20 and len(set(got)) == 20
