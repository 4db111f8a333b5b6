"""Error codes become one exception hierarchy, with the library's own messages."""
import builtins
import os
import pickle
import threading

import pytest

import homelab
from homelab import errors

EXPECTED = {
    "HL_ERROR": homelab.HomelabError,
    "HL_ENOMEM": homelab.OutOfMemoryError,
    "HL_ENOTFOUND": homelab.NotFoundError,
    "HL_EEXISTS": homelab.AlreadyExistsError,
    "HL_EINVALID": homelab.InvalidArgumentError,
    "HL_EAUTH": homelab.AuthError,
    "HL_ETIMEOUT": homelab.TimeoutError,
    "HL_EUNREACHABLE": homelab.UnreachableError,
    "HL_EUSER": homelab.CancelledError,
    "HL_EREADONLY": homelab.ReadOnlyError,
    "HL_ECORRUPT": homelab.CorruptError,
    "HL_EFULL": homelab.FullError,
    "HL_EBUSY": homelab.BusyError,
    "HL_EINUSE": homelab.InUseError,
    "HL_ELOCKED": homelab.VaultLockedError,
    "HL_EINTEGRITY": homelab.IntegrityError,
    "HL_EUNSUPPORTED": homelab.UnsupportedError,
    "HL_EDECLINED": homelab.DeclinedError,
}


def test_codes_come_from_the_library():
    codes = homelab.error_codes()
    assert codes[0] == ("HL_OK", "no error")
    by_name = {name: code for code, (name, _) in codes.items()}
    # Every code the library names maps to a class; names this binding knows
    # map to their own class.
    for code, (name, text) in codes.items():
        if code == 0:
            continue
        e = errors.from_code(code)
        assert isinstance(e, homelab.HomelabError)
        assert e.code == code and e.name == name and str(e) == text
        if name in EXPECTED:
            assert type(e) is EXPECTED[name], name
    assert set(EXPECTED) <= set(by_name)


def test_builtin_bases():
    assert issubclass(homelab.NotFoundError, KeyError)
    assert issubclass(homelab.InvalidArgumentError, ValueError)
    assert homelab.InvalidError is homelab.InvalidArgumentError
    assert issubclass(homelab.TimeoutError, builtins.TimeoutError)
    assert issubclass(homelab.UnreachableError, ConnectionError)
    assert issubclass(homelab.AuthError, PermissionError)
    assert issubclass(homelab.OutOfMemoryError, MemoryError)
    assert issubclass(homelab.LibraryNotFoundError, OSError)
    for cls in EXPECTED.values():
        assert issubclass(cls, homelab.HomelabError)


def test_not_found_is_a_key_error_with_the_library_message(demo):
    with pytest.raises(KeyError) as ei:
        demo.get_vm(name="nope")
    e = ei.value
    assert isinstance(e, homelab.NotFoundError)
    assert str(e) == "vm 'nope' not found"  # not quoted like a plain KeyError
    assert e.name == "HL_ENOTFOUND" and e.code == errors.code_of("HL_ENOTFOUND")
    assert e.tool == "homelab_get_vm"
    with pytest.raises(homelab.NotFoundError, match=r"^ip 127\.9\.9\.9 is not allocated to any vm, host or allocation$"):
        demo.lookup_ip(ip="127.9.9.9")


def test_invalid_argument_is_a_value_error_naming_the_field(demo):
    with pytest.raises(ValueError) as ei:
        demo.list_vms(status="bogus")
    assert str(ei.value) == 'status: must be one of running, stopped, paused, suspended, unknown (got "bogus")'
    assert ei.value.name == "HL_EINVALID"
    with pytest.raises(homelab.InvalidArgumentError, match="^vm_id or name: one of them is required$"):
        demo.get_vm()
    with pytest.raises(homelab.InvalidArgumentError):
        demo.get_service()  # required argument missing: the library says which
    with pytest.raises(homelab.InvalidArgumentError):
        demo.call("homelab_list_vms", colour="red")
    with pytest.raises(homelab.InvalidArgumentError):
        demo.call("homelab_list_vms", status=float("nan"))


def test_unknown_tool(demo):
    with pytest.raises(homelab.NotFoundError, match="^no tool named 'homelab_nope'$") as ei:
        demo.call("homelab_nope")
    assert ei.value.tool == "homelab_nope"
    with pytest.raises(AttributeError):
        demo.no_such_method
    with pytest.raises(homelab.NotFoundError):
        homelab.tool("homelab_nope")


def test_validate_without_calling(demo):
    demo.validate("homelab_allocate_ip", subnet="127.0.1.0/24", allocated_to="x")
    with pytest.raises(homelab.InvalidArgumentError, match="allocated_to"):
        demo.validate("homelab_allocate_ip", subnet="127.0.1.0/24")
    assert demo.list_ips()["count"] == 5  # nothing was allocated


def test_exists_readonly_corrupt_and_missing(tmp_path, db_path):
    with homelab.Homelab(db_path) as hl:
        hl.load_demo()
        with pytest.raises(homelab.AlreadyExistsError, match="the inventory is not empty"):
            hl.load_demo()
    with homelab.Homelab(db_path, readonly=True) as ro:
        assert ro.readonly
        assert ro.list_vms()["count"] == 3
        with pytest.raises(homelab.ReadOnlyError):
            ro.allocate_ip(subnet="127.0.1.0/24", allocated_to="x")
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(homelab.CorruptError):
        homelab.Homelab(str(junk))
    with pytest.raises(homelab.NotFoundError):
        homelab.Homelab(str(tmp_path / "missing.db"), create=False)
    assert not os.path.exists(tmp_path / "missing.db")
    with pytest.raises(homelab.InvalidArgumentError, match="database path is empty"):
        homelab.Homelab("")


def test_full_subnet(demo):
    with pytest.raises(homelab.FullError):
        for _ in range(300):
            demo.allocate_ip(subnet="127.0.1.0/29", allocated_to="filler")


def test_errors_pickle():
    e = errors.from_code(homelab.errors.code_of("HL_ENOTFOUND"), "vm 'x' not found", 6, "homelab_get_vm")
    f = pickle.loads(pickle.dumps(e))
    assert type(f) is homelab.NotFoundError
    assert (f.message, f.code, f.name, f.klass, f.tool) == (e.message, e.code, e.name, e.klass, e.tool)
    assert "NotFoundError" in repr(f)


def test_error_messages_are_per_thread(db_path):
    # hl_error_last() is read on the calling thread at once: two threads
    # failing at the same time each get their own message.
    with homelab.Homelab(db_path) as hl:
        hl.load_demo()
    results = {}
    barrier = threading.Barrier(8)

    def worker(i):
        with homelab.Homelab(db_path) as mine:
            barrier.wait()
            for _ in range(50):
                try:
                    mine.get_vm(name=f"ghost{i}")
                except homelab.NotFoundError as e:
                    if str(e) != f"vm 'ghost{i}' not found":
                        results[i] = str(e)
                        return
        results[i] = "ok"

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {i: "ok" for i in range(8)}
