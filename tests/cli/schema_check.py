"""Check a JSON value against a tool's output schema: the JSON Schema
keywords the tool table uses (type, properties, required, items, enum),
every error with its path. Refuses a schema keyword it does not know, so a
new keyword in tools.def cannot pass unchecked."""
import json
import subprocess

KNOWN = {"type", "properties", "required", "items", "enum", "description"}
TYPES = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}


def errors(value, schema, path="$"):
    unknown = set(schema) - KNOWN
    if unknown:
        return [f"{path}: schema keyword(s) this checker does not know: {sorted(unknown)}"]
    out = []
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(TYPES[t](value) for t in types):
            return [f"{path}: {json.dumps(value)[:60]} is not {'|'.join(types)}"]
    if "enum" in schema and value not in schema["enum"]:
        out.append(f"{path}: {value!r} not one of {schema['enum']}")
    if isinstance(value, dict):
        for k in schema.get("required", []):
            if k not in value:
                out.append(f"{path}: missing {k}")
        for k, sub in schema.get("properties", {}).items():
            if k in value:
                out += errors(value[k], sub, f"{path}.{k}")
    if isinstance(value, list) and "items" in schema:
        for i, v in enumerate(value):
            out += errors(v, schema["items"], f"{path}[{i}]")
    return out


def output_schema(homelab, tool):
    r = subprocess.run([homelab, "tools", "schema", tool, "--output"], capture_output=True, text=True, check=True)
    return json.loads(r.stdout)


def check(homelab, tool, value):
    errs = errors(value, output_schema(homelab, tool))
    assert not errs, f"{tool}: {errs}"
