"""The Homelab handle, the tool table as seen from Python, and tools written in Python.

Homelab wraps one hl_ctx (one open inventory database). Every tool in the
library's table is reachable with ``hl.call(name, **args)`` and as a method
generated from the table (``hl.list_vms(status="running")``); no tool is
declared here.
"""

from __future__ import annotations

import ctypes
import enum
import json
import os
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, NamedTuple, Optional, Tuple

from . import _lib, _schema
from .errors import (ClosedError, CancelledError, HomelabError, InvalidArgumentError, NotFoundError,
                     check, code_of, last_error)


class ToolFlags(enum.IntFlag):
    """HL_TOOL_* bits of homelab/tool.h (ABI: never renumbered)."""

    READONLY = 1 << 0
    DESTRUCTIVE = 1 << 1
    IDEMPOTENT = 1 << 2
    OPEN_WORLD = 1 << 3
    AUDITED = 1 << 4
    PROGRESS = 1 << 5
    MUTATES = 1 << 6
    CONTENT = 1 << 7  # the result is an MCP tool result ({"content": [...], "isError": ...})


_FLAG_WORDS = [(ToolFlags.READONLY, "read-only"), (ToolFlags.DESTRUCTIVE, "destructive"),
               (ToolFlags.IDEMPOTENT, "idempotent"), (ToolFlags.OPEN_WORLD, "open-world"),
               (ToolFlags.AUDITED, "audited"), (ToolFlags.PROGRESS, "progress"),
               (ToolFlags.MUTATES, "mutates"), (ToolFlags.CONTENT, "content")]


class Progress(NamedTuple):
    """One progress report of a running tool."""

    message: Optional[str]
    completed: float
    total: float  # 0 when unknown

    @property
    def fraction(self) -> Optional[float]:
        """completed / total, or None when the total is unknown."""
        return self.completed / self.total if self.total > 0 else None


ProgressCallback = Callable[[Progress], Any]
LogCallback = Callable[[str, str, str], Any]  # (level, logger, message)


@dataclass(frozen=True)
class ToolInfo:
    """One tool of the library's table."""

    name: str
    title: str
    description: str
    scope: str
    flags: ToolFlags
    input_schema: Dict[str, Any] = field(repr=False)
    output_schema: Dict[str, Any] = field(repr=False)
    method: Optional[str] = None  # the Homelab method name, if it has one

    @property
    def progress(self) -> bool:
        return bool(self.flags & ToolFlags.PROGRESS)

    @property
    def annotations(self) -> List[str]:
        return [word for bit, word in _FLAG_WORDS if self.flags & bit]


# -------------------------------------------------------------- the table ---

_table_lock = threading.RLock()
_infos: Dict[int, ToolInfo] = {}      # tool address -> info (tools live as long as the process)
_methods: Dict[str, str] = {}         # method name -> tool name


def method_name_for(tool_name: str) -> str:
    """The preferred method name of a tool: without "homelab_", '-' as '_'."""
    base = tool_name[len("homelab_"):] if tool_name.startswith("homelab_") and \
        len(tool_name) > len("homelab_") else tool_name
    return base.replace("-", "_")


def _method_ok(name: str) -> bool:
    return (_schema.is_param_name(name) and not name.startswith("_") and name not in _RESERVED
            and name not in _methods)


def _make_method(info: ToolInfo, name: str) -> Callable[..., Dict[str, Any]]:
    tool = info.name
    props = info.input_schema.get("properties") or {}
    takes_progress = info.progress and "progress" not in props

    def method(self: "Homelab", /, **kwargs: Any) -> Dict[str, Any]:
        progress = kwargs.pop("progress", None) if takes_progress else None
        args = {k: v for k, v in kwargs.items() if v is not None}
        return self.call(tool, args, progress=progress)

    method.__name__ = name
    method.__qualname__ = f"Homelab.{name}"
    method.__module__ = "homelab"
    method.__doc__ = _schema.docstring(info)
    method.__signature__ = _schema.signature(info.input_schema, takes_progress)  # type: ignore[attr-defined]
    method._homelab_tool = tool  # type: ignore[attr-defined]
    return method


def _info_of(lib: ctypes.CDLL, t: Any) -> ToolInfo:
    def schema(text: Optional[bytes]) -> Dict[str, Any]:
        try:
            value = json.loads(text.decode()) if text else {}
        except ValueError:
            value = {}
        return value if isinstance(value, dict) else {}

    return ToolInfo(
        name=lib.hl_tool_name(t).decode(),
        title=_lib.text(lib.hl_tool_title(t)) or "",
        description=_lib.text(lib.hl_tool_description(t)) or "",
        scope=_lib.text(lib.hl_tool_scope(t)) or "",
        flags=ToolFlags(lib.hl_tool_flags(t) & sum(ToolFlags)),
        input_schema=schema(lib.hl_tool_input_schema(t)),
        output_schema=schema(lib.hl_tool_output_schema(t)))


def _sync() -> List[ToolInfo]:
    """Walk the library's table; give every new tool its method. Returns all tools, in table order."""
    lib = _lib.load()
    with _table_lock:
        out = []
        t = lib.hl_tool_next(None)
        while t:
            addr = ctypes.addressof(t.contents)
            info = _infos.get(addr)
            if info is None:
                info = _info_of(lib, t)
                # First come, first served: the preferred name, then the full
                # name; a tool that gets neither is reachable through call().
                name = next((n for n in (method_name_for(info.name), info.name.replace("-", "_"))
                             if _method_ok(n)), None)
                if name:
                    info = ToolInfo(info.name, info.title, info.description, info.scope, info.flags,
                                    info.input_schema, info.output_schema, name)
                    _methods[name] = info.name
                    setattr(Homelab, name, _make_method(info, name))
                _infos[addr] = info
            out.append(info)
            t = lib.hl_tool_next(t)
        return out


def tools() -> List[ToolInfo]:
    """Every tool in the library's table (built-in, then registered), in order."""
    return _sync()


def _lookup(lib: ctypes.CDLL, tool_name: str) -> Any:
    t = lib.hl_tool_lookup(tool_name.encode())
    if not t:
        raise NotFoundError(f"no tool named '{tool_name}'", code_of("HL_ENOTFOUND"), "HL_ENOTFOUND",
                            None, tool_name)
    return t


def tool(tool_name: str) -> ToolInfo:
    """The ToolInfo of one tool; NotFoundError if there is none."""
    t = _lookup(_lib.load(), tool_name)
    addr = ctypes.addressof(t.contents)
    if addr not in _infos:
        _sync()
    return _infos[addr]


def generate_key() -> str:
    """A new random vault key, in the text form key= and HOMELAB_DB_KEY take."""
    lib = _lib.load()
    if not _lib.has("hl_vault_keygen"):
        raise NotImplementedError(f"{_lib.path()} has no credential vault; upgrade libhomelab")
    buf = ctypes.create_string_buffer(128)
    try:
        check(lib.hl_vault_keygen(buf, ctypes.sizeof(buf)))
        return buf.value.decode()
    finally:
        ctypes.memset(buf, 0, ctypes.sizeof(buf))


def version() -> str:
    """The version of the loaded libhomelab."""
    return _lib.load().hl_version().decode()


# --------------------------------------------------------------- progress ---

class _ProgressRelay:
    """Carries progress reports from C to a Python callable.

    An exception raised by the callable is kept, the tool is told to stop
    (non-zero return, so it returns HL_EUSER), and call() re-raises it.
    The CFUNCTYPE object lives as long as this relay, which call() holds
    until the C call has returned.
    """

    def __init__(self, fn: ProgressCallback) -> None:
        self.fn = fn
        self.exc: Optional[BaseException] = None
        self.cfunc = _lib.PROGRESS_CB(self._report)

    def _report(self, p: Any, payload: Any) -> int:
        if self.exc is not None:
            return 1
        try:
            c = p.contents
            self.fn(Progress(_lib.text(c.message), float(c.completed), float(c.total)))
            return 0
        except BaseException as e:  # KeyboardInterrupt too: it must not vanish inside ctypes
            self.exc = e
            return 1


class _CallRelay:
    """Log messages and the stop question of one call (hl_call_options v2/v3).

    An exception raised by the log callable (or by stop) is kept, the tool
    is told to stop through should_stop, and call() re-raises it.
    """

    def __init__(self, log: Optional[LogCallback], stop: Any) -> None:
        self.log, self.stop = log, stop
        self.exc: Optional[BaseException] = None
        self.log_cfunc = _lib.LOG_CB(self._log) if log is not None else None
        self.stop_cfunc = _lib.STOP_CB(self._should_stop)

    def _log(self, level: int, logger: Optional[bytes], message: Optional[bytes], payload: Any) -> None:
        if self.exc is not None:
            return
        try:
            name = _lib.LOG_LEVELS[level] if 0 <= level < len(_lib.LOG_LEVELS) else str(level)
            self.log(name, _lib.text(logger) or "", _lib.text(message) or "")  # type: ignore[misc]
        except BaseException as e:
            self.exc = e

    def _should_stop(self, payload: Any) -> int:
        if self.exc is not None:
            return 1
        try:
            s = self.stop
            if s is None:
                return 0
            return 1 if (s.is_set() if hasattr(s, "is_set") else s()) else 0
        except BaseException as e:
            self.exc = e
            return 1


# ---------------------------------------------------------------- Homelab ---

_local = threading.local()  # handler_exc: an exception from a Python tool handler on this thread


class Homelab:
    """One open homelab inventory, and every tool of the library.

    ::

        with homelab.Homelab(db_path="/tmp/lab.db") as hl:
            hl.load_demo()
            hl.list_vms(status="running")      # == hl.call("homelab_list_vms", status="running")

    Args:
        db_path: the inventory database; None: $HOMELAB_DB_PATH, then
            $XDG_DATA_HOME/homelab/homelab.db. ":memory:" is a private
            in-memory database. A missing file is created with the schema.
        key: the vault key: 32 bytes in URL-safe base64 (the HOMELAB_DB_KEY
            format, see generate_key()) or "file:PATH". None: $HOMELAB_DB_KEY,
            else the vault stays locked (credential tools raise
            VaultLockedError). A key given here is checked at once
            (InvalidArgumentError). Needs a libhomelab with the vault.
        audit_db_path: a separate audit database; None: $HOMELAB_AUDIT_DB,
            else the inventory database.
        principal: who acts, for the audit log; None: the local user name.
        readonly: open the database read-only.
        create: False fails with NotFoundError when the file does not exist.

    Threads: a Homelab may be shared between threads; its calls are
    serialised by a lock (the library's hl_ctx is used by one thread at a
    time) and the GIL is released while C runs. For parallel calls, open
    one Homelab per thread on the same database file. Calling back into the
    same Homelab from a progress callback raises HomelabError.
    """

    def __init__(self, db_path: Optional[str] = None, key: Optional[str] = None, *,
                 principal: Optional[str] = None, readonly: bool = False, create: bool = True,
                 audit_db_path: Optional[str] = None) -> None:
        self._ctx: Optional[Any] = None
        self._lock = threading.Lock()
        self._owner: Optional[int] = None
        lib = _lib.load()
        _sync()
        if (key is not None or audit_db_path is not None) and not _lib.has_vault():
            raise NotImplementedError(f"{_lib.path()} has no credential vault, so it cannot take key= or "
                                      f"audit_db_path= (hl_ctx_options.db_key came with the vault); "
                                      f"upgrade libhomelab")
        opts = _lib.HlCtxOptions()
        opts.version = _lib.HL_CTX_OPTIONS_VERSION
        keep = []  # the bytes the struct points into, alive until hl_ctx_open returns
        if db_path is not None:
            keep.append(_fspath(db_path))
            opts.db_path = keep[-1]
        if principal is not None:
            keep.append(principal.encode())
            opts.principal = keep[-1]
        if audit_db_path is not None:
            keep.append(_fspath(audit_db_path))
            opts.audit_db_path = keep[-1]
        secret = None
        if key is not None:
            # A C buffer we can wipe once the library has its own copy.
            secret = ctypes.create_string_buffer(key.encode() if isinstance(key, str) else bytes(key))
            opts.db_key = ctypes.cast(secret, ctypes.c_char_p)
        opts.flags = (_lib.HL_CTX_READONLY if readonly else 0) | (0 if create else _lib.HL_CTX_NO_CREATE)
        ctx = _lib.CtxP()
        try:
            check(lib.hl_ctx_open(ctypes.byref(ctx), ctypes.byref(opts)))
            if secret is not None:
                # Check the key now: a bad key is an error of this constructor,
                # not of some later credential call.
                rc = lib.hl_vault_unlock(ctx)
                if rc < 0:
                    err = last_error(rc)
                    lib.hl_ctx_free(ctx)
                    raise err
        finally:
            if secret is not None:
                ctypes.memset(secret, 0, ctypes.sizeof(secret))
        self._ctx = ctx

    # -- lifetime --

    def close(self) -> None:
        """Close the database. Safe to call twice; later calls raise ClosedError."""
        with self._lock:
            ctx, self._ctx = self._ctx, None
            if ctx is not None:
                _lib.load().hl_ctx_free(ctx)

    @property
    def closed(self) -> bool:
        return self._ctx is None

    def __enter__(self) -> "Homelab":
        self._handle()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        # Never raise from here (Python would only print it): at interpreter
        # exit the module globals may already be gone.
        try:
            self.close()
        except BaseException:
            pass

    def __repr__(self) -> str:
        if self._ctx is None:
            return "<homelab.Homelab closed>"
        return f"<homelab.Homelab {self.db_path!r}>"

    def _handle(self) -> Any:
        ctx = self._ctx
        if ctx is None:
            raise ClosedError("the Homelab handle is closed")
        return ctx

    def _enter(self) -> Any:
        me = threading.get_ident()
        if self._owner == me:
            raise HomelabError("re-entrant call on the same Homelab handle (from a progress callback or "
                               "tool handler?); open a second Homelab for that")
        self._lock.acquire()
        if self._ctx is None:
            self._lock.release()
            raise ClosedError("the Homelab handle is closed")
        self._owner = me
        return self._ctx

    def _leave(self) -> None:
        self._owner = None
        self._lock.release()

    # -- the database --

    @property
    def db_path(self) -> str:
        """The database file in use."""
        ctx = self._enter()
        try:
            return os.fsdecode(_lib.load().hl_ctx_db_path(ctx))
        finally:
            self._leave()

    @property
    def readonly(self) -> bool:
        ctx = self._enter()
        try:
            return bool(_lib.load().hl_ctx_readonly(ctx))
        finally:
            self._leave()

    @property
    def schema_version(self) -> int:
        """PRAGMA user_version of the open database."""
        ctx = self._enter()
        try:
            return int(_lib.load().hl_ctx_schema_version(ctx))
        finally:
            self._leave()

    def load_demo(self) -> None:
        """Fill an empty inventory with the demo homelab (loopback addresses only).

        Raises AlreadyExistsError when the inventory is not empty.
        """
        ctx = self._enter()
        try:
            rc = _lib.load().hl_inventory_load_demo(ctx)
            if rc < 0:
                raise last_error(rc)
        finally:
            self._leave()

    # -- tools --

    def tools(self) -> List[ToolInfo]:
        """Every tool in the library's table (see homelab.tools())."""
        self._handle()
        return _sync()

    def tool(self, tool_name: str) -> ToolInfo:
        """One tool's ToolInfo; NotFoundError if there is none."""
        self._handle()
        return tool(tool_name)

    def validate(self, tool_name: str, arguments: Optional[Mapping[str, Any]] = None, /,
                 **args: Any) -> None:
        """Check arguments against a tool's input schema without calling it."""
        self._handle()
        lib = _lib.load()
        t = _lookup(lib, tool_name)
        text = _encode_args(arguments, args)
        rc = lib.hl_tool_validate(t, text)
        if rc < 0:
            raise last_error(rc, tool_name)

    def call(self, tool_name: str, arguments: Optional[Mapping[str, Any]] = None, /, *,
             progress: Optional[ProgressCallback] = None, log: Optional[LogCallback] = None,
             log_level: str = "info", stop: Any = None, **args: Any) -> Dict[str, Any]:
        """Call any tool of the table by name; return its JSON result as a dict.

        Arguments come as keywords, or as a dict (for names that are not
        Python identifiers, or a tool argument called "progress"); both may
        be given. None is sent as JSON null. The library validates them
        against the tool's schema (InvalidArgumentError names the field).

        progress: called with a Progress for every report of a tool that has
        them. If it raises, the tool is asked to stop and the exception is
        re-raised here once the C call has returned.

        log: called as log(level, logger, message) for what the tool does
        (the command an SSH tool runs and its exit status, each health
        answer, the stages of a pull), from log_level up ("debug", "info",
        ... "emergency"). If it raises, the tool is asked to stop and the
        exception is re-raised here.

        stop: a threading.Event (or a callable returning true) that another
        thread sets to end the call: a remote command is ended, a pull or a
        health check stops; the call then raises CancelledError.
        """
        lib = _lib.load()
        t = _lookup(lib, tool_name)
        text = _encode_args(arguments, args)
        opts = _lib.HlCallOptions()
        opts.version = _lib.HL_CALL_OPTIONS_VERSION
        relay = _ProgressRelay(progress) if progress is not None else None
        if relay is not None:
            opts.progress = relay.cfunc
        if log_level not in _lib.LOG_LEVELS:
            raise InvalidArgumentError(f"log_level: must be one of {', '.join(_lib.LOG_LEVELS)}, "
                                       f"not {log_level!r}")
        calls = _CallRelay(log, stop) if log is not None or stop is not None else None
        if calls is not None:
            if calls.log_cfunc is not None:
                opts.log = calls.log_cfunc
                opts.log_level = _lib.LOG_LEVELS.index(log_level)
            opts.should_stop = calls.stop_cfunc
        out = _lib.HlBuf()
        ctx = self._enter()
        _local.handler_exc = None
        try:
            rc = lib.hl_tool_call(ctypes.byref(out), ctx, t, text, ctypes.byref(opts))
            # Read the thread's last error at once, before any other call.
            err = last_error(rc, tool_name) if rc < 0 else None
            result = out.text() if rc == 0 else None
        finally:
            lib.hl_buf_dispose(ctypes.byref(out))
            self._leave()
        cause = getattr(_local, "handler_exc", None)
        _local.handler_exc = None
        if relay is not None and relay.exc is not None:
            exc, relay.exc = relay.exc, None
            raise exc
        if calls is not None and calls.exc is not None:
            exc, calls.exc = calls.exc, None
            raise exc
        if err is not None:
            if cause is not None:
                raise err from cause
            raise err
        return json.loads(result) if result else {}

    def __dir__(self) -> List[str]:
        _sync()
        return sorted(set(super().__dir__()) | set(_methods))

    def __getattr__(self, name: str) -> Any:
        # Only reached for missing attributes: a tool registered since the
        # last walk of the table (by C code, or another module) gets its
        # method now.
        if not name.startswith("_"):
            try:
                _sync()
            except HomelabError:
                pass
            if name in _methods:
                return getattr(self, name)
        raise AttributeError(f"'Homelab' object has no attribute '{name}'")


# Names generated methods may not take: everything Homelab defines itself.
_RESERVED = frozenset(dir(Homelab)) | {"progress", "arguments"}


def _fspath(p: Any) -> bytes:
    return os.fsencode(p)  # any file name the OS allows, not only UTF-8 ones


def _encode_args(arguments: Optional[Mapping[str, Any]], kwargs: Mapping[str, Any]) -> bytes:
    merged: Dict[str, Any] = {}
    if arguments is not None:
        if not isinstance(arguments, Mapping):
            raise TypeError(f"arguments must be a mapping, not {type(arguments).__name__}")
        merged.update(arguments)
    for k, v in kwargs.items():
        if k in merged:
            raise TypeError(f"argument '{k}' given twice")
        merged[k] = v
    try:
        return json.dumps(merged, allow_nan=False, ensure_ascii=False).encode()
    except ValueError as e:  # NaN / infinity
        raise InvalidArgumentError(f"arguments: {e}", code_of("HL_EINVALID"), "HL_EINVALID") from None


# --------------------------------------------------------- Python tools ---

class ToolCall:
    """What a Python tool handler learns about the call it serves."""

    def __init__(self, opts: Any) -> None:
        o = opts.contents if opts else None
        self.principal: Optional[str] = _lib.text(o.principal) if o else None
        self.client_addr: Optional[str] = _lib.text(o.client_addr) if o else None
        self.timeout_ms: int = int(o.timeout_ms) if o else 0
        self._progress = o.progress if o else None
        self._payload = o.payload if o else None
        self._opts = opts

    def log(self, level: str, message: str, logger: str = "python") -> None:
        """Tell the caller what the tool is doing (level "debug" ... "emergency");
        nothing when the caller does not listen."""
        if level not in _lib.LOG_LEVELS:
            raise ValueError(f"log level must be one of {', '.join(_lib.LOG_LEVELS)}, not {level!r}")
        if self._opts:
            _lib.load().hl_tool_log(self._opts, _lib.LOG_LEVELS.index(level), logger.encode(), b"%s",
                                    message.encode("utf-8", errors="replace"))

    def should_stop(self) -> bool:
        """True once the caller asked the tool to stop (return, or raise CancelledError)."""
        return bool(self._opts) and _lib.load().hl_tool_should_stop(self._opts) != 0

    def progress(self, message: Optional[str] = None, completed: float = 0.0, total: float = 0.0) -> None:
        """Report progress to the caller. Raises CancelledError when the caller asked to stop."""
        if not self._progress:
            return
        p = _lib.HlProgress(message.encode() if message is not None else None, completed, total)
        if self._progress(ctypes.byref(p), self._payload) != 0:
            raise CancelledError("cancelled by the progress callback", code_of("HL_EUSER"), "HL_EUSER")


ToolHandler = Callable[[Dict[str, Any], ToolCall], Mapping[str, Any]]

_registered: List[Tuple[Any, ToolHandler]] = []  # CFUNCTYPE objects: C may call them until exit

# Built-in exceptions a handler may raise, and the code each one stands for.
_PY_CODES = [(KeyError, "HL_ENOTFOUND"), (ValueError, "HL_EINVALID"), (PermissionError, "HL_EAUTH"),
             (TimeoutError, "HL_ETIMEOUT"), (ConnectionError, "HL_EUNREACHABLE"),
             (MemoryError, "HL_ENOMEM")]


def _handler_failed(tool_name: str, e: BaseException) -> int:
    lib = _lib.load()
    _local.handler_exc = e
    if isinstance(e, HomelabError) and e.code is not None and e.code < 0:
        code, msg = e.code, e.message
    else:
        name = next((n for cls, n in _PY_CODES if isinstance(e, cls)), "HL_ERROR")
        code = code_of(name)
        detail = str(e.args[0]) if isinstance(e, KeyError) and e.args else str(e)
        msg = f"{type(e).__name__}: {detail}" if detail else type(e).__name__
    klass = e.klass if isinstance(e, HomelabError) and e.klass is not None else _lib.HL_ERROR_TOOL
    lib.hl_error_set(code, klass, b"%s", msg.encode("utf-8", errors="replace"))
    return code


def register_tool(name: str, handler: ToolHandler, *, description: str, scope: str,
                  input_schema: Optional[Any] = None, output_schema: Optional[Any] = None,
                  title: Optional[str] = None, flags: int = 0) -> ToolInfo:
    """Add a tool written in Python to the process-wide table.

    The tool is then reachable like a built-in one: hl.call(name, ...), a
    generated method, and any front end in this process that walks the
    table. Tools cannot be removed; a name can be registered once.

    handler(args: dict, call: ToolCall) -> dict runs on the calling thread
    with validated arguments. call.progress(message, completed, total)
    reports progress (raising CancelledError if the caller said stop);
    call.log(level, message) tells the caller what it does, and
    call.should_stop() is true once the caller asked it to stop.
    Exceptions become library errors: a HomelabError keeps its code, KeyError
    -> HL_ENOTFOUND, ValueError -> HL_EINVALID, others -> HL_ERROR; a Python
    caller gets the original exception as __cause__.

    Schemas may be dicts or JSON text.
    """
    lib = _lib.load()

    def c_handler(out: Any, ctx: Any, args_json: Optional[bytes], opts: Any, payload: Any) -> int:
        try:
            args = json.loads(args_json.decode()) if args_json else {}
            result = handler(args, ToolCall(opts))
            if not isinstance(result, Mapping):
                raise TypeError(f"tool {name} must return a dict, not {type(result).__name__}")
            data = json.dumps(dict(result), allow_nan=False).encode()
            rc = lib.hl_buf_set(out, data, len(data))
            return rc
        except BaseException as e:
            try:
                return _handler_failed(name, e)
            except BaseException:
                return -1

    def text(schema: Any) -> Optional[bytes]:
        if schema is None:
            return None
        return (schema if isinstance(schema, str) else json.dumps(schema)).encode()

    cfunc = _lib.TOOL_HANDLER(c_handler)
    d = _lib.HlToolDef()
    d.version = _lib.HL_TOOL_DEF_VERSION
    d.name = name.encode()
    d.title = title.encode() if title else None
    d.description = description.encode()
    d.input_schema = text(input_schema)
    d.output_schema = text(output_schema)
    d.scope = scope.encode()
    d.flags = int(flags)
    d.handler = cfunc
    t = _lib.ToolP()
    rc = lib.hl_tool_register(ctypes.byref(t), ctypes.byref(d))
    if rc < 0:
        raise last_error(rc, name)
    _registered.append((cfunc, handler))
    _sync()
    return _infos[ctypes.addressof(t.contents)]


__all__ = ["Homelab", "ToolInfo", "ToolFlags", "Progress", "ToolCall", "tools", "tool", "version", "generate_key",
           "register_tool", "method_name_for"]
