"""Progress callbacks, cancellation, and tools written in Python (hl_tool_register).

The library's homelab_check_all_services reports progress before each
service it probes (the services here are HTTP servers the test starts on
127.0.0.1); tools registered from Python call the same C progress callback
through hl_call_options, and return HL_EUSER when it says stop.
"""
import http.server
import inspect
import sqlite3
import threading
import time

import pytest

import homelab

STEPS_SCHEMA = {"type": "object", "additionalProperties": False, "required": ["steps"],
                "properties": {"steps": {"type": "integer", "minimum": 0, "maximum": 1000,
                                         "description": "how many progress reports to send"},
                               "label": {"type": "string", "description": "what to call them"}}}
done_steps = []


def _steps(args, call):
    n = 0
    for i in range(args["steps"]):
        call.progress(f"{args.get('label', 'step')} {i + 1}", i + 1, args["steps"])
        n += 1
        done_steps.append(n)
    return {"steps": n, "principal": call.principal, "client_addr": call.client_addr}


STEPS = homelab.register_tool(
    "pytest_steps", _steps, title="Count steps", description="Report progress a given number of times.",
    scope="pytest:run", input_schema=STEPS_SCHEMA,
    output_schema={"type": "object", "required": ["steps"], "properties": {"steps": {"type": "integer"}}},
    flags=homelab.ToolFlags.READONLY | homelab.ToolFlags.PROGRESS)


def test_registered_tool_is_in_the_table(empty):
    assert STEPS.name == "pytest_steps" and STEPS.method == "pytest_steps"
    assert STEPS.progress and STEPS.scope == "pytest:run"
    names = [t.name for t in homelab.tools()]
    assert names.index("pytest_steps") > names.index("homelab_allocate_ip")  # built-in tools first
    assert "pytest_steps" in [t.name for t in empty.tools()]
    sig = inspect.signature(empty.pytest_steps)
    assert list(sig.parameters) == ["steps", "label", "progress"]
    assert sig.parameters["steps"].default is inspect.Parameter.empty
    assert "how many progress reports to send" in empty.pytest_steps.__doc__


def test_progress_reports_arrive_in_order(empty):
    seen = []
    r = empty.call("pytest_steps", steps=4, progress=seen.append)
    assert r["steps"] == 4
    assert seen == [homelab.Progress(f"step {i}", float(i), 4.0) for i in range(1, 5)]
    assert seen[1].fraction == 0.5
    seen.clear()
    assert empty.pytest_steps(steps=2, label="chunk", progress=seen.append)["steps"] == 2
    assert [p.message for p in seen] == ["chunk 1", "chunk 2"]


def test_no_callback_no_reports(empty):
    assert empty.pytest_steps(steps=3)["steps"] == 3


class Stop(Exception):
    pass


def test_exception_in_callback_cancels_and_is_reraised(empty):
    done_steps.clear()
    seen = []
    exc = Stop("enough")

    def cb(p):
        seen.append(p)
        if p.completed >= 3:
            raise exc

    with pytest.raises(Stop) as ei:
        empty.call("pytest_steps", steps=100, progress=cb)
    assert ei.value is exc
    assert len(seen) == 3
    assert done_steps == [1, 2]  # the tool stopped at the third report
    assert "cb" in "".join(str(tb.name) for tb in ei.traceback)  # the callback's own traceback
    # The handle stays usable.
    assert empty.pytest_steps(steps=1)["steps"] == 1


def test_keyboard_interrupt_in_callback_is_reraised(empty):
    def cb(p):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        empty.pytest_steps(steps=5, progress=cb)


def test_cancel_without_python_exception_is_cancelled_error(empty):
    def handler(args, call):
        raise homelab.CancelledError("gave up", homelab.errors.code_of("HL_EUSER"), "HL_EUSER")

    homelab.register_tool("pytest_gives_up", handler, description="Always stops.", scope="pytest:run")
    with pytest.raises(homelab.CancelledError, match="^gave up$"):
        empty.call("pytest_gives_up")


def test_reentrant_call_from_callback_is_refused(empty):
    def cb(p):
        empty.list_vms()

    with pytest.raises(homelab.HomelabError, match="re-entrant call"):
        empty.pytest_steps(steps=2, progress=cb)


def test_handler_errors_map_to_codes(empty):
    def handler(args, call):
        kind = args["kind"]
        if kind == "key":
            raise KeyError("widget 7")
        if kind == "value":
            raise ValueError("colour must be blue")
        if kind == "homelab":
            raise homelab.AuthError("not you", homelab.errors.code_of("HL_EAUTH"), "HL_EAUTH")
        if kind == "list":
            return ["not", "a", "dict"]
        if kind == "zero":
            return {"x": 1 / 0}
        return {"kind": kind}

    homelab.register_tool("pytest_fails", handler, description="Fails as asked.", scope="pytest:run",
                          input_schema={"type": "object", "required": ["kind"],
                                        "properties": {"kind": {"type": "string"}}})
    assert empty.pytest_fails(kind="fine") == {"kind": "fine"}
    with pytest.raises(homelab.NotFoundError, match="^KeyError: widget 7$") as ei:
        empty.pytest_fails(kind="key")
    assert isinstance(ei.value.__cause__, KeyError)
    with pytest.raises(homelab.InvalidArgumentError, match="^ValueError: colour must be blue$"):
        empty.pytest_fails(kind="value")
    with pytest.raises(homelab.AuthError, match="^not you$"):
        empty.pytest_fails(kind="homelab")
    with pytest.raises(homelab.HomelabError, match="must return a dict, not list"):
        empty.pytest_fails(kind="list")
    with pytest.raises(homelab.HomelabError, match="ZeroDivisionError") as ei:
        empty.pytest_fails(kind="zero")
    assert type(ei.value) is homelab.HomelabError and ei.value.name == "HL_ERROR"
    with pytest.raises(homelab.InvalidArgumentError):
        empty.pytest_fails()  # the library validated before the handler ran


def test_register_errors():
    with pytest.raises(homelab.AlreadyExistsError, match="already in the table"):
        homelab.register_tool("pytest_steps", _steps, description="again", scope="pytest:run")
    with pytest.raises(homelab.AlreadyExistsError):
        homelab.register_tool("homelab_list_vms", _steps, description="again", scope="pytest:run")
    with pytest.raises(homelab.InvalidArgumentError, match="must match"):
        homelab.register_tool("bad name!", _steps, description="x", scope="pytest:run")
    with pytest.raises(homelab.InvalidArgumentError):
        homelab.register_tool("pytest_bad_schema", _steps, description="x", scope="pytest:run",
                              input_schema="{not json")


def test_method_names_never_collide(empty):
    h = lambda args, call: {"ok": True}  # noqa: E731
    # "close" is Homelab's own: the tool keeps only call().
    assert homelab.register_tool("close", h, description="x", scope="pytest:run").method is None
    # "homelab_call" would strip to "call": it keeps its full name.
    assert homelab.register_tool("homelab_call", h, description="x", scope="pytest:run").method == "homelab_call"
    assert homelab.register_tool("pytest-hyphen", h, description="x", scope="pytest:run").method == "pytest_hyphen"
    # "homelab_pytest_dup" takes pytest_dup; a later "pytest_dup" falls back to... its own full name,
    # which is taken too, so it keeps only call().
    assert homelab.register_tool("homelab_pytest_dup", h, description="x", scope="pytest:run").method == "pytest_dup"
    assert homelab.register_tool("pytest_dup", h, description="y", scope="pytest:run").method is None
    empty.close  # still the real method
    assert empty.call("close") == {"ok": True}
    assert empty.homelab_call() == {"ok": True}
    assert empty.pytest_hyphen() == {"ok": True}
    assert empty.call("pytest-hyphen") == {"ok": True}
    assert empty.call("pytest_dup") == {"ok": True}
    assert callable(homelab.Homelab.close) and not hasattr(homelab.Homelab.close, "_homelab_tool")


def test_odd_property_names_stay_reachable(empty):
    def h(args, call):
        return {"got": args}

    homelab.register_tool("pytest_odd", h, description="x", scope="pytest:run",
                          input_schema={"type": "object", "properties": {
                              "from": {"type": "string"}, "a-b": {"type": "integer"},
                              "progress": {"type": "number"}}})
    sig = inspect.signature(empty.pytest_odd)
    assert "progress" in sig.parameters and "arguments" in sig.parameters
    assert empty.pytest_odd(**{"from": "x", "a-b": 2}, progress=0.5) == {"got": {"from": "x", "a-b": 2, "progress": 0.5}}
    assert empty.call("pytest_odd", {"progress": 1}) == {"got": {"progress": 1}}


def test_tool_registered_in_another_thread_appears(empty):
    def reg():
        homelab.register_tool("pytest_from_thread", lambda a, c: {"t": 1}, description="x", scope="pytest:run")

    th = threading.Thread(target=reg)
    th.start()
    th.join()
    assert empty.pytest_from_thread() == {"t": 1}


def test_call_options_reach_the_handler(db_path):
    with homelab.Homelab(db_path, principal="alice") as hl:
        r = hl.pytest_steps(steps=0)
        assert r["steps"] == 0 and r["client_addr"] is None


def test_tool_registered_behind_the_bindings_back_appears(empty):
    # A tool added straight through hl_tool_register (as C code linking the
    # library would) gets its method on first use.
    import ctypes
    from homelab import _lib
    lib = _lib.load()

    def handler(out, ctx, args_json, opts, payload):
        data = b'{"raw":true}'
        return lib.hl_buf_set(out, data, len(data))

    cfunc = _lib.TOOL_HANDLER(handler)
    test_tool_registered_behind_the_bindings_back_appears.keep = cfunc  # C may call it until exit
    d = _lib.HlToolDef(version=_lib.HL_TOOL_DEF_VERSION, name=b"pytest_raw", description=b"raw",
                       scope=b"pytest:run", handler=cfunc)
    assert lib.hl_tool_register(None, ctypes.byref(d)) == 0
    assert "pytest_raw" not in homelab.Homelab.__dict__
    assert empty.pytest_raw() == {"raw": True}
    assert homelab.tool("pytest_raw").method == "pytest_raw"


def test_code_unknown_to_the_binding_stays_a_homelab_error(empty):
    def handler(args, call):
        raise homelab.HomelabError("from the future", -500)

    homelab.register_tool("pytest_future_code", handler, description="x", scope="pytest:run")
    with pytest.raises(homelab.HomelabError, match="^from the future$") as ei:
        empty.pytest_future_code()
    assert type(ei.value) is homelab.HomelabError
    assert ei.value.code == -500 and ei.value.name is None


class _Counting(http.server.BaseHTTPRequestHandler):
    hits = []

    def do_GET(self):
        _Counting.hits.append(self.path)
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *a):
        pass


@pytest.fixture
def lab(demo, db_path):
    """The demo inventory (3 services where nothing listens) plus 3 services
    on an HTTP server of this test that answers 200."""
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Counting)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    _Counting.hits = []
    con = sqlite3.connect(db_path)
    with con:
        for name in ("web-a", "web-b", "web-c"):
            con.execute("INSERT INTO services (service_name, url, health_endpoint) VALUES (?, ?, ?)",
                        (name, f"http://127.0.0.1:{srv.server_address[1]}", f"/{name}"))
    con.close()
    yield demo
    srv.shutdown()
    srv.server_close()


def test_library_tool_reports_progress(lab):
    seen = []
    r = lab.check_all_services(timeout_s=2, progress=seen.append)
    assert (r["count"], r["healthy"], r["unreachable"]) == (6, 3, 3), r
    names = [s["service_name"] for s in r["services"]]
    assert seen == [homelab.Progress(f"checking {n}", float(i), 6.0) for i, n in enumerate(names)]
    assert sorted(_Counting.hits) == ["/web-a", "/web-b", "/web-c"]


def test_library_tool_stops_when_the_callback_raises(lab, monkeypatch):
    def cb(p):
        if p.message == "checking web-b":
            raise Stop("enough")

    # one probe at a time: what comes after the stop is never probed
    monkeypatch.setenv("HOMELAB_HEALTH_PARALLEL", "1")
    with pytest.raises(Stop, match="^enough$"):
        lab.call("homelab_check_all_services", progress=cb)
    assert _Counting.hits == ["/web-a"]  # web-b and web-c were never probed
    assert lab.check_all_services()["count"] == 6  # the handle stays usable
    # 16 at once (the default): the probes in flight end with the stop
    monkeypatch.delenv("HOMELAB_HEALTH_PARALLEL")
    with pytest.raises(Stop, match="^enough$"):
        lab.call("homelab_check_all_services", progress=cb)
    assert lab.check_all_services()["count"] == 6


def test_content_tool_from_python(empty):
    """A tool flagged CONTENT returns an MCP tool result; Python callers get it as it is."""
    def handler(args, call):
        return {"content": [{"type": "text", "text": "hello " + args["who"]},
                            {"type": "image", "data": "AA==", "mimeType": "image/png"}], "isError": False}

    info = homelab.register_tool("pytest_content", handler, description="Returns MCP content.", scope="pytest:run",
                                 input_schema={"type": "object", "required": ["who"],
                                               "properties": {"who": {"type": "string"}}},
                                 flags=homelab.ToolFlags.READONLY | homelab.ToolFlags.CONTENT)
    assert info.flags & homelab.ToolFlags.CONTENT and "content" in info.annotations
    r = empty.call("pytest_content", who="you")
    assert r["content"][0] == {"type": "text", "text": "hello you"} and r["content"][1]["type"] == "image"


def test_log_messages_of_a_library_tool(lab):
    seen = []
    r = lab.call("homelab_check_all_services", timeout_s=2, log=lambda *m: seen.append(m))
    assert r["count"] == 6
    healthy = sorted(m for m in seen if m[0] == "info")
    assert [m[2].split(":")[0] for m in healthy] == ["web-a", "web-b", "web-c"], seen
    assert all(m[1] == "health" and ": healthy (HTTP 200 in " in m[2] for m in healthy)
    assert len([m for m in seen if m[0] == "warning"]) == 3, seen  # the demo's services, where nothing listens
    warnings = []
    lab.call("homelab_check_all_services", timeout_s=2, log=lambda *m: warnings.append(m), log_level="warning")
    def who(ms):
        return sorted((m[0], m[1], m[2].split(":")[0]) for m in ms)
    assert who(warnings) == who(m for m in seen if m[0] == "warning")
    with pytest.raises(homelab.InvalidArgumentError, match="log_level: must be one of debug, info"):
        lab.call("homelab_check_all_services", log=print, log_level="loud")


def test_log_callback_that_raises_stops_the_tool(lab, monkeypatch):
    monkeypatch.setenv("HOMELAB_HEALTH_PARALLEL", "1")

    def log(level, logger, message):
        raise Stop(message)
    # the health tool logs its answers once they are all in: the exception
    # still comes out of the call, and nothing else is lost
    with pytest.raises(Stop):
        lab.call("homelab_check_all_services", timeout_s=2, log=log)
    assert lab.check_all_services()["count"] == 6


class _Slow(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        time.sleep(20)

    def log_message(self, *a):
        pass


def test_stop_event_ends_a_running_call(demo, db_path):
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Slow)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        con = sqlite3.connect(db_path)
        with con:
            con.execute("INSERT INTO services (service_name, url, health_endpoint) VALUES (?, ?, ?)",
                        ("slow", f"http://127.0.0.1:{srv.server_address[1]}", "/"))
        con.close()
        stop = threading.Event()
        threading.Timer(0.3, stop.set).start()
        t0 = time.monotonic()
        with pytest.raises(homelab.CancelledError):
            demo.call("homelab_check_all_services", timeout_s=30, stop=stop)
        assert time.monotonic() - t0 < 3
        with pytest.raises(homelab.CancelledError):
            demo.call("homelab_check_all_services", timeout_s=30, stop=lambda: True)
    finally:
        srv.shutdown()
        srv.server_close()


def test_python_handler_logs_and_sees_stop(demo):
    def handler(args, call):
        call.log("notice", "waiting for the stop", logger="pytest")
        end = time.monotonic() + 10
        while not call.should_stop():
            if time.monotonic() > end:
                return {"stopped": False}
            time.sleep(0.01)
        return {"stopped": True}
    homelab.register_tool("pytest_waits", handler, description="Waits until asked to stop.", scope="pytest:run")
    seen = []
    n = [0]

    def stop():
        n[0] += 1
        return n[0] > 3
    assert demo.call("pytest_waits", log=lambda *m: seen.append(m), stop=stop) == {"stopped": True}
    assert seen == [("notice", "pytest", "waiting for the stop")]
    assert demo.call("pytest_waits", stop=lambda: True) == {"stopped": True}
    with pytest.raises(ValueError, match="log level must be one of"):
        homelab.register_tool("pytest_bad_level", lambda a, c: c.log("loud", "x"), description="x",
                              scope="pytest:run")
        demo.call("pytest_bad_level")
