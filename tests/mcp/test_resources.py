"""Resources, prompts and completion (issue 13), declared in the library and
served by homelab-mcpd: listing with pagination, reads that are the same JSON
as the matching tool, not-found as the spec's -32002, scopes, argument
validation, names from the real inventory."""
import json
import sqlite3

import pytest

import mcp_helpers as H


@pytest.fixture(scope="module")
def s(daemon):
    return H.Session(daemon.http())


def _result(s, method, params=None):
    r = s.rpc(method, params)
    assert "result" in r, r
    return r["result"]


def _error(s, method, params=None):
    r = s.rpc(method, params)
    assert "error" in r, r
    return r["error"]


def test_capabilities(s):
    caps = s.init["result"]["capabilities"]
    assert caps["resources"] == {"listChanged": False, "subscribe": True}
    assert caps["prompts"] == {"listChanged": False}
    assert caps["completions"] == {}


@pytest.mark.parametrize("uri,tool,args", [
    ("homelab://vms/whisper", "homelab_get_vm", ["name=whisper"]),
    ("homelab://hosts/pve", "homelab_get_host", ["name=pve"]),
    ("homelab://audit/recent", "homelab_audit_list", []),
])
def test_read_is_the_tools_json(s, shared_db, uri, tool, args):
    res = _result(s, "resources/read", {"uri": uri})
    [content] = res["contents"]
    assert content["uri"] == uri and content["mimeType"] == "application/json"
    got = json.loads(content["text"])
    if tool == "homelab_audit_list":
        assert set(got) == set(H.cli_json(shared_db, "tools", "call", tool)), got
    else:
        assert got == H.cli_json(shared_db, "tools", "call", tool, *args)


def test_inventory_summary(s, shared_db):
    got = json.loads(_result(s, "resources/read", {"uri": "homelab://inventory"})["contents"][0]["text"])
    assert got["vms"] == H.cli_json(shared_db, "tools", "call", "homelab_list_vms")
    assert got["hosts"] == H.cli_json(shared_db, "tools", "call", "homelab_list_hosts")
    assert got["services"] == H.cli_json(shared_db, "tools", "call", "homelab_list_services")


@pytest.mark.parametrize("uri", ["homelab://vms/nosuch", "homelab://nothing", "homelab://vms/", "file:///etc/passwd",
                                 "homelab://vms/a/b", "homelab://vms/%ZZ", "homelab://vms/%01x"])
def test_not_found(s, uri):
    e = _error(s, "resources/read", {"uri": uri})
    assert e["code"] == -32002 and "Resource not found" in e["message"], e


def test_bad_params(s):
    assert _error(s, "resources/read", {})["code"] == -32602
    assert _error(s, "resources/read", {"uri": 7})["code"] == -32602
    assert _error(s, "resources/list", {"cursor": "nope"})["code"] == -32602
    assert _error(s, "resources/list", {"cursor": "-5"})["code"] == -32602


def test_templates(s):
    got = _result(s, "resources/templates/list")["resourceTemplates"]
    assert [t["uriTemplate"] for t in got] == ["homelab://vms/{name}", "homelab://hosts/{name}",
                                               "homelab://services/{name}"]
    assert all(t["mimeType"] == "application/json" and t["description"] for t in got)


def test_pagination_and_escaped_names(start_daemon, tmp_path):
    db = H.make_demo_db(tmp_path / "many.db")
    con = sqlite3.connect(db)
    con.executemany("INSERT INTO virtual_machines (vm_id, name, ip, status, host_id) VALUES (?, ?, ?, 'running', 1)",
                    [(1000 + i, f"vm-{i:03d}", f"127.2.0.{i + 1}") for i in range(240)])
    con.execute("INSERT INTO virtual_machines (vm_id, name, status, host_id) VALUES (5000, 'odd name/é', 'stopped', 1)")
    con.commit()
    con.close()
    d = start_daemon(db=db)
    sess = H.Session(d.http())
    uris, cursor, pages = [], None, 0
    while True:
        res = _result(sess, "resources/list", {"cursor": cursor} if cursor else {})
        assert len(res["resources"]) <= 100
        uris += [r["uri"] for r in res["resources"]]
        pages += 1
        cursor = res.get("nextCursor")
        if not cursor:
            break
    assert pages == 3 and len(uris) == len(set(uris))
    vms = [u for u in uris if u.startswith("homelab://vms/")]
    assert len(vms) == 244  # 3 demo VMs, 240, and the odd one
    assert "homelab://vms/odd%20name%2F%C3%A9" in vms
    got = json.loads(_result(sess, "resources/read", {"uri": "homelab://vms/odd%20name%2F%C3%A9"})["contents"][0]["text"])
    assert got["name"] == "odd name/é"


def test_scopes(start_daemon, tmp_path):
    db = H.make_demo_db(tmp_path / "scoped.db")
    auditor = H.create_token(db, "auditor", "audit:read")
    reader = H.create_token(db, "reader", "inventory:read")
    d = start_daemon(db=db)
    a = H.Session(d.http(), extra={"Authorization": f"Bearer {auditor}"})
    assert [r["uri"] for r in _result(a, "resources/list")["resources"]] == ["homelab://audit/recent"]
    assert _result(a, "resources/templates/list")["resourceTemplates"] == []
    r = a.post({"jsonrpc": "2.0", "id": 9, "method": "resources/read", "params": {"uri": "homelab://vms/whisper"}})
    assert r.status == 403 and r.messages()[-1]["error"]["code"] == -32003, r
    # names are not offered to a token that may not read them
    c = _result(a, "completion/complete", {"ref": {"type": "ref/prompt", "name": "diagnose_vm"},
                                          "argument": {"name": "vm", "value": ""}})
    assert c["completion"]["values"] == []
    rows = H.cli_json(db, "audit", "list", "--action", "auth_refused")["entries"]
    assert any(row["principal"] == "auditor" and "resource vm" in row["details"] for row in rows), rows
    b = H.Session(d.http(), extra={"Authorization": f"Bearer {reader}"})
    uris = [r["uri"] for r in _result(b, "resources/list")["resources"]]
    assert "homelab://audit/recent" not in uris and "homelab://vms/whisper" in uris


def test_prompts(s):
    prompts = {p["name"]: p for p in _result(s, "prompts/list")["prompts"]}
    assert set(prompts) == {"diagnose_vm", "gpu_report", "tune_modelfile", "inventory_overview"}
    assert prompts["tune_modelfile"]["arguments"] == [
        {"name": "model", "description": "the Ollama model, e.g. gemma:2b", "required": True},
        {"name": "change", "description": "what to change, e.g. set temperature to 0.6", "required": True}]
    got = _result(s, "prompts/get", {"name": "tune_modelfile",
                                     "arguments": {"model": "gemma:2b", "change": "set temperature to 0.6"}})
    text = got["messages"][0]["content"]["text"]
    assert "ollama_show_model" in text and "gemma:2b" in text and "set temperature to 0.6" in text
    got = _result(s, "prompts/get", {"name": "gpu_report"})  # target is optional
    assert "whisper_gpu_status (target the default target)" in got["messages"][0]["content"]["text"]
    assert "homelab_list_vms" in _result(s, "prompts/get", {"name": "inventory_overview"})["messages"][0]["content"]["text"]


@pytest.mark.parametrize("params,message", [
    ({"name": "diagnose_vm"}, "prompt diagnose_vm: argument 'vm' is required"),
    ({"name": "diagnose_vm", "arguments": {"vm": ""}}, "argument 'vm' is required"),
    ({"name": "diagnose_vm", "arguments": {"vm": "whisper", "extra": "x"}}, "unknown argument 'extra'"),
    ({"name": "diagnose_vm", "arguments": {"vm": 101}}, "argument 'vm' must be a string"),
    ({"name": "diagnose_vm", "arguments": {"vm": "x" * 1001}}, "longer than 1000 bytes"),
    ({"name": "nosuch"}, "Unknown prompt: nosuch"),
    ({}, "params.name (a string) is required"),
])
def test_prompt_argument_errors(s, params, message):
    e = _error(s, "prompts/get", params)
    assert e["code"] == -32602 and message in e["message"], e


def test_completion(s):
    def values(ref, name, value, context=None):
        params = {"ref": ref, "argument": {"name": name, "value": value}}
        if context:
            params["context"] = context
        return _result(s, "completion/complete", params)["completion"]

    prompt = {"type": "ref/prompt", "name": "diagnose_vm"}
    assert values(prompt, "vm", "WH") == {"values": ["whisper"], "total": 1, "hasMore": False}
    assert values(prompt, "vm", "zzz") == {"values": [], "total": 0, "hasMore": False}
    assert values({"type": "ref/resource", "uri": "homelab://hosts/{name}"}, "name", "p")["values"] == ["pve"]
    svc = values({"type": "ref/resource", "uri": "homelab://services/{name}"}, "name", "")
    assert svc["total"] >= 3 and svc["values"] == sorted(svc["values"])
    # free text has nothing to offer; the model list asks an Ollama that is not there, and offers nothing
    assert values({"type": "ref/prompt", "name": "tune_modelfile"}, "change", "set")["values"] == []
    assert values({"type": "ref/prompt", "name": "tune_modelfile"}, "model", "g")["values"] == []
    e = _error(s, "completion/complete", {"ref": {"type": "ref/prompt", "name": "nosuch"},
                                          "argument": {"name": "x", "value": ""}})
    assert e["code"] == -32602 and "Unknown prompt: nosuch" in e["message"]
    e = _error(s, "completion/complete", {"ref": {"type": "ref/tool"}, "argument": {"name": "x", "value": ""}})
    assert e["code"] == -32602
    e = _error(s, "completion/complete", {"ref": {"type": "ref/resource", "uri": "homelab://vms/whisper"},
                                          "argument": {"name": "name", "value": ""}})
    assert e["code"] == -32602 and "Unknown resource template" in e["message"]


def test_inventory_errors_are_reported_not_hidden(start_daemon, tmp_path):
    """A completion or a read whose inventory query fails says why (an
    Ollama that does not answer only offers nothing)."""
    db = H.make_demo_db(tmp_path / "broken.db")
    d = start_daemon(db=db)
    s = H.Session(d.http())
    con = sqlite3.connect(db)
    con.execute("ALTER TABLE virtual_machines RENAME TO virtual_machines_away")
    con.commit()
    con.close()
    e = _error(s, "completion/complete", {"ref": {"type": "ref/prompt", "name": "diagnose_vm"},
                                          "argument": {"name": "vm", "value": ""}})
    assert e["code"] == -32603 and "virtual_machines" in e["message"], e
    e = _error(s, "resources/read", {"uri": "homelab://vms/whisper"})
    assert e["code"] == -32603 and "virtual_machines" in e["message"], e
