"""Python signatures, type hints and docstrings built from a tool's JSON schemas.

Nothing here knows a particular tool: it reads the input schema's
``properties`` and ``required`` (and the output schema's top-level keys) the
way the CLI builds its --flags and help.
"""

from __future__ import annotations

import inspect
import keyword
import textwrap
from typing import Any, Callable, Dict, List, Optional, Union

try:
    from typing import Literal
except ImportError:  # Python < 3.8 is not supported, but stay importable
    Literal = None  # type: ignore

_SIMPLE = {
    "string": str,
    "integer": int,
    "number": float,
    "boolean": bool,
    "array": List[Any],
    "object": Dict[str, Any],
    "null": type(None),
}


def _types(prop: Dict[str, Any]) -> List[str]:
    t = prop.get("type")
    if isinstance(t, str):
        return [t]
    if isinstance(t, list):
        return [x for x in t if isinstance(x, str)]
    return []


def annotation(prop: Dict[str, Any]) -> Any:
    """A typing annotation for one schema property (Any when unclear)."""
    enum = prop.get("enum")
    if isinstance(enum, list) and enum and Literal is not None and \
            all(isinstance(v, (str, int, bool)) or v is None for v in enum):
        return Literal[tuple(enum)]  # type: ignore[misc]
    types = [_SIMPLE[t] for t in _types(prop) if t in _SIMPLE]
    if not types:
        return Any
    if len(types) == 1:
        return types[0]
    return Union[tuple(types)]  # type: ignore[return-value]


def _type_text(prop: Dict[str, Any]) -> str:
    enum = prop.get("enum")
    if isinstance(enum, list) and enum:
        return "one of " + ", ".join(str(v) for v in enum)
    types = _types(prop)
    text = " or ".join(types) if types else "any JSON value"
    limits = []
    if "minimum" in prop:
        limits.append(f">= {prop['minimum']}")
    if "maximum" in prop:
        limits.append(f"<= {prop['maximum']}")
    if "minLength" in prop or "maxLength" in prop:
        limits.append(f"length {prop.get('minLength', 0)}..{prop.get('maxLength', '')}".rstrip("."))
    if limits:
        text += " (" + ", ".join(limits) + ")"
    return text


def is_param_name(name: str) -> bool:
    return name.isidentifier() and not keyword.iskeyword(name)


def signature(input_schema: Dict[str, Any], progress: bool) -> inspect.Signature:
    """(self, *, required..., optional...=None[, progress=None]) -> Dict[str, Any].

    Properties whose names are not Python identifiers cannot be parameters;
    they are still accepted as ``**{"name": value}`` and through call().
    """
    props = input_schema.get("properties") or {}
    required = [r for r in (input_schema.get("required") or []) if r in props]
    params = [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    order = required + [p for p in props if p not in required]
    odd = False
    for name in order:
        if not is_param_name(name) or name == "self":
            odd = True
            continue
        hint = annotation(props[name] if isinstance(props[name], dict) else {})
        if name in required:
            params.append(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=hint))
        else:
            params.append(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None,
                                            annotation=Optional[hint]))
    if progress:
        params.append(inspect.Parameter("progress", inspect.Parameter.KEYWORD_ONLY, default=None,
                                        annotation=Optional[Callable[..., Any]]))
    if odd:
        params.append(inspect.Parameter("arguments", inspect.Parameter.VAR_KEYWORD, annotation=Any))
    return inspect.Signature(params, return_annotation=Dict[str, Any])


def _para(text: str, indent: str) -> str:
    return textwrap.fill(" ".join(text.split()), width=76, initial_indent=indent, subsequent_indent=indent)


def docstring(info: Any) -> str:
    """The docstring of a generated method, from a ToolInfo."""
    ins = info.input_schema
    props = ins.get("properties") or {}
    required = ins.get("required") or []
    lines = [info.title.rstrip(".") + ".", "", _para(info.description, ""), ""]
    if props:
        lines.append("Arguments (keyword only; an optional one left at None is not sent):")
        for name in [r for r in required if r in props] + [p for p in props if p not in required]:
            prop = props[name] if isinstance(props[name], dict) else {}
            need = "required" if name in required else "optional"
            lines.append(f"    {name}: {_type_text(prop)}; {need}")
            if prop.get("description"):
                lines.append(_para(prop["description"], " " * 8))
    else:
        lines.append("Arguments: none.")
    if info.progress:
        lines.append("    progress: callable(Progress), called as the tool reports progress; "
                     "raising in it cancels the tool, and the exception is re-raised here")
    lines.append("")
    out_props = (info.output_schema or {}).get("properties") or {}
    if out_props:
        keys = ", ".join(f"{k} ({' or '.join(_types(v)) or 'any'})" if isinstance(v, dict) else k
                         for k, v in out_props.items())
        lines.append("Returns:")
        lines.append(_para(f"a dict with {keys}", "    "))
    else:
        lines.append("Returns:")
        lines.append("    a dict (the tool's JSON result)")
    lines.append("")
    hints = ", ".join(info.annotations) or "no annotations"
    lines.append(_para(f"Tool {info.name} (scope {info.scope}; {hints}). Errors raise HomelabError "
                       f"subclasses with the library's message: InvalidArgumentError (a ValueError) "
                       f"for a bad argument, NotFoundError (a KeyError) for an unknown object.", ""))
    return "\n".join(lines)
