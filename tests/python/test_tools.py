"""Every tool of the table, from Python, through call() and the generated methods."""
import http.server
import inspect
import sqlite3
import threading

import pytest

import homelab

# Arguments that work against the demo inventory, for the tools that need no
# network. A tool added to the table later is still called by
# test_every_tool_answers_with_a_dict_or_a_homelab_error.
DEMO_CALLS = {
    "homelab_list_vms": ({"status": "running"}, lambda r: [v["name"] for v in r["vms"]] == ["whisper", "harbor"]),
    "homelab_get_vm": ({"name": "whisper"}, lambda r: r["vm_id"] == 101 and r["services"][0]["service_name"] == "ollama"),
    "homelab_list_hosts": ({}, lambda r: r["count"] == 1 and r["hosts"][0]["node_name"] == "pve"),
    "homelab_get_host": ({"name": "pve"}, lambda r: r["vm_count"] == 3 and len(r["vms"]) == 3),
    "homelab_list_services": ({"vm_id": "harbor"}, lambda r: r["count"] == 2),
    "homelab_get_service": ({"name": "ollama"}, lambda r: r["url"] == "http://127.0.1.201:11434"),
    "homelab_lookup_ip": ({"ip": "127.0.1.201"}, lambda r: r["held_by"] == ["vm", "allocation"]),
    "homelab_list_ips": ({"subnet": "127.0.1.0/24"}, lambda r: r["count"] == 5),
    "homelab_allocate_ip": ({"subnet": "127.0.1.0/24", "allocated_to": "pytest"},
                            lambda r: r["ip_address"] == "127.0.1.2" and r["type"] == "static"),
}


def builtin_tools():
    """The library's own tools (other test files register tools with scope pytest:run)."""
    return [t for t in homelab.tools() if t.scope != "pytest:run"]


@pytest.mark.parametrize("name", sorted(DEMO_CALLS))
def test_call_by_name(demo, name):
    args, ok = DEMO_CALLS[name]
    result = demo.call(name, **args)
    assert isinstance(result, dict)
    assert ok(result), result


@pytest.mark.parametrize("name", sorted(DEMO_CALLS))
def test_generated_method_matches_call(db_path, name):
    # Two databases so that allocate_ip starts from the same state.
    args, _ = DEMO_CALLS[name]
    with homelab.Homelab(db_path) as a, homelab.Homelab(db_path + ".2") as b:
        a.load_demo()
        b.load_demo()
        info = homelab.tool(name)
        assert getattr(b, info.method)(**args) == a.call(name, **args)


def test_every_tool_answers_with_a_dict_or_a_homelab_error(demo):
    # Without arguments every tool either works or fails with a mapped error
    # and the library's message: nothing crashes, nothing is left unmapped.
    for t in builtin_tools():
        if t.flags & homelab.ToolFlags.OPEN_WORLD and not t.input_schema.get("required"):
            continue  # would contact the demo's (loopback) servers; covered by the fixtures' tests
        try:
            r = demo.call(t.name)
        except homelab.HomelabError as e:
            assert e.code is not None and e.code < 0 and e.message and e.tool == t.name, t.name
        else:
            assert isinstance(r, dict), t.name


def test_known_tools_are_all_in_the_table():
    names = [t.name for t in homelab.tools()]
    assert set(DEMO_CALLS) | {"homelab_check_service_health"} <= set(names)
    assert len(names) == len(set(names))


def test_every_tool_has_a_method_with_a_schema_signature():
    for t in builtin_tools():
        assert t.method == homelab.method_name_for(t.name), t.name
        fn = getattr(homelab.Homelab, t.method)
        sig = inspect.signature(fn)
        props = t.input_schema.get("properties", {})
        required = set(t.input_schema.get("required", []))
        params = {n: p for n, p in sig.parameters.items() if n != "self"}
        assert set(params) - {"progress"} == set(props), t.name
        for n, p in params.items():
            assert p.kind is inspect.Parameter.KEYWORD_ONLY
            if n in required:
                assert p.default is inspect.Parameter.empty, (t.name, n)
            else:
                assert p.default is None, (t.name, n)
        assert t.title.rstrip(".") in fn.__doc__ and t.name in fn.__doc__
        for n, prop in props.items():
            if prop.get("description"):
                assert " ".join(prop["description"].split()[:3]) in " ".join(fn.__doc__.split())


def test_method_names_strip_the_homelab_prefix():
    assert homelab.method_name_for("homelab_list_vms") == "list_vms"
    assert homelab.method_name_for("ollama_pull_model") == "ollama_pull_model"
    assert homelab.method_name_for("whisper_gpu_status") == "whisper_gpu_status"
    assert homelab.method_name_for("my-tool") == "my_tool"
    assert homelab.method_name_for("homelab_") == "homelab_"


def test_help_lists_the_tools(demo):
    import pydoc
    text = pydoc.render_doc(homelab.Homelab, renderer=pydoc.plaintext)
    for t in builtin_tools():
        assert t.method + "(self, *" in text or t.method + "(self)" in text, t.method
    sig = str(inspect.signature(demo.list_vms))
    assert sig.startswith("(*, status: Optional[Literal['running', 'stopped'")
    assert "host: Optional[str] = None" in sig
    assert str(inspect.signature(demo.get_service)) == "(*, name: str) -> Dict[str, Any]"
    assert "allocate_ip" in dir(demo)


def test_tools_lists_metadata(demo):
    info = demo.tool("homelab_list_vms")
    assert info.scope == "inventory:read"
    assert info.flags & homelab.ToolFlags.READONLY
    assert "read-only" in info.annotations
    assert info.input_schema["properties"]["status"]["enum"][0] == "running"
    assert info.output_schema["required"] == ["vms", "count"]
    assert [t.name for t in demo.tools()] == [t.name for t in homelab.tools()]


def test_optional_none_is_not_sent_by_methods_but_is_by_call(demo):
    assert demo.list_vms(status=None, host=None)["count"] == 3
    with pytest.raises(homelab.InvalidArgumentError):
        demo.call("homelab_list_vms", status=None)


def test_arguments_as_a_dict(demo):
    assert demo.call("homelab_get_vm", {"vm_id": 101})["name"] == "whisper"
    assert demo.call("homelab_list_vms", {"status": "stopped"}, host="pve")["vms"][0]["name"] == "sandbox"
    with pytest.raises(TypeError, match="given twice"):
        demo.call("homelab_get_vm", {"name": "a"}, name="b")
    with pytest.raises(TypeError):
        demo.get_vm("whisper")  # keyword only


def test_allocate_ip_mutates(demo):
    a = demo.allocate_ip(subnet="127.0.1.0/24", allocated_to="one")
    b = demo.allocate_ip(subnet="127.0.1.0/24", allocated_to="two", hostname="two.lan", type="dhcp")
    assert (a["ip_address"], b["ip_address"]) == ("127.0.1.2", "127.0.1.3")
    assert demo.lookup_ip(ip="127.0.1.3")["allocation"] == {
        "ip_address": "127.0.1.3", "hostname": "two.lan", "allocated_to": "two", "type": "dhcp"}


def test_empty_inventory(empty):
    assert empty.list_vms() == {"vms": [], "count": 0}
    assert empty.list_hosts() == {"hosts": [], "count": 0}


class _Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        code = 200 if self.path == "/ok" else 503
        self.send_response(code)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *a):
        pass


@pytest.fixture
def health_server():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    th = threading.Thread(target=srv.serve_forever, daemon=True)
    th.start()
    yield srv.server_address[1]
    srv.shutdown()
    srv.server_close()


def test_check_service_health_against_a_loopback_server(db_path, health_server):
    with homelab.Homelab(db_path) as hl:
        pass  # create the schema
    # No tool adds services yet: write the rows the way the original server did.
    con = sqlite3.connect(db_path)
    with con:
        for name, path in (("up", "/ok"), ("sick", "/bad")):
            con.execute("INSERT INTO services (service_name, url, port, protocol, health_endpoint) "
                        "VALUES (?, ?, ?, 'http', ?)",
                        (name, f"http://127.0.0.1:{health_server}", health_server, path))
        # A port nobody listens on (bound, then closed).
        import socket
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
        s.close()
        con.execute("INSERT INTO services (service_name, url, port, protocol, health_endpoint) "
                    "VALUES ('down', ?, ?, 'http', '/')", (f"http://127.0.0.1:{dead}", dead))
    con.close()
    with homelab.Homelab(db_path) as hl:
        up = hl.check_service_health(name="up")
        assert up["status"] == "healthy" and up["healthy"] is True and up["http_status"] == 200
        sick = hl.call("homelab_check_service_health", name="sick", timeout_s=5)
        assert sick["status"] == "unhealthy" and sick["http_status"] == 503
        down = hl.check_service_health(name="down", timeout_s=2)
        assert down["status"] == "unreachable" and down["healthy"] is False
        with pytest.raises(homelab.NotFoundError):
            hl.check_service_health(name="nope")
