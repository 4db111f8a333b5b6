"""Finding libhomelab and declaring its C API for ctypes.

Every function the binding uses is declared once here, with argtypes and
restype. Handles are opaque pointer types (hl_ctx *, const hl_tool *) so they
cannot be mixed up. Nothing in this module knows about individual tools.

Where the library is looked for, in order:

1. ``$HOMELAB_LIBRARY`` (a file, or a directory holding libhomelab.so.0).
   When it is set, nothing else is tried: an explicit choice that does not
   load is an error, not a reason to pick some other library silently.
2. The build tree: walking up from this package to the source checkout (the
   directory holding ``libhomelab/include/homelab.h``), then ``build/`` and
   ``build-*/`` in it (``build/`` first).
3. The system loader: ``ctypes.util.find_library("homelab")``, then
   ``libhomelab.so.0``.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import mmap
import os
import threading
from ctypes import (CFUNCTYPE, POINTER, Structure, c_char, c_char_p, c_double, c_int,
                    c_size_t, c_uint, c_void_p)
from pathlib import Path
from typing import List, Optional, Tuple

from .errors import LibraryNotFoundError

SONAME = "libhomelab.so.0"

# --------------------------------------------------------------- C types ---


class HlCtx(Structure):
    """Opaque ``hl_ctx``."""


class HlTool(Structure):
    """Opaque ``hl_tool``."""


CtxP = POINTER(HlCtx)
ToolP = POINTER(HlTool)


class HlError(Structure):
    _fields_ = [("message", c_char_p), ("klass", c_int), ("code", c_int)]


class HlBuf(Structure):
    _fields_ = [("ptr", c_void_p), ("size", c_size_t), ("reserved", c_size_t)]

    def text(self) -> str:
        """The contents as text (not disposed)."""
        if not self.ptr:
            return ""
        return ctypes.string_at(self.ptr, self.size).decode("utf-8", errors="replace")


class HlProgress(Structure):
    _fields_ = [("message", c_char_p), ("completed", c_double), ("total", c_double)]


PROGRESS_CB = CFUNCTYPE(c_int, POINTER(HlProgress), c_void_p)
LOG_CB = CFUNCTYPE(None, c_int, c_char_p, c_char_p, c_void_p)  # hl_log_cb
STOP_CB = CFUNCTYPE(c_int, c_void_p)                           # hl_stop_cb

# hl_log_level (homelab/tool.h), in order
LOG_LEVELS = ("debug", "info", "notice", "warning", "error", "critical", "alert", "emergency")

# Options structs grow only at the end. The library may be newer than this
# file; zeroed spare bytes after the fields we know keep a newer library
# reading defaults (NULL, 0) rather than our neighbours' memory.
_SPARE = 256


class HlCtxOptions(Structure):
    """``hl_ctx_options`` (homelab/ctx.h), fields in header order."""

    _fields_ = [
        ("version", c_uint),
        ("db_path", c_char_p),
        ("flags", c_uint),
        ("busy_timeout_ms", c_int),
        ("principal", c_char_p),
        # Since the vault (hl_vault_unlock exported): older libraries ignore
        # these (they land in the spare bytes), so Homelab checks has_vault().
        ("db_key", c_char_p),
        ("audit_db_path", c_char_p),
        ("_spare", c_char * _SPARE),
    ]


HL_CTX_OPTIONS_VERSION = 1
#: The hl_ctx_options fields this binding mirrors (without version/spare).
CTX_OPTION_FIELDS = tuple(f[0] for f in HlCtxOptions._fields_ if f[0] not in ("version", "_spare"))

# hl_ctx_options.flags (homelab/ctx.h)
HL_CTX_READONLY = 1 << 0
HL_CTX_NO_CREATE = 1 << 1
HL_CTX_NO_MIGRATE = 1 << 2


class HlCallOptions(Structure):
    """``hl_call_options`` (homelab/tool.h)."""

    _fields_ = [
        ("version", c_uint),
        ("progress", PROGRESS_CB),
        ("payload", c_void_p),
        ("principal", c_char_p),
        ("client_addr", c_char_p),
        ("timeout_ms", c_int),
        # version 2
        ("log", LOG_CB),
        ("log_payload", c_void_p),
        ("log_level", c_int),
        # version 3 (asking the person or the client's model is for front ends
        # that have one: the binding leaves elicit and sample NULL)
        ("elicit", c_void_p),
        ("sample", c_void_p),
        ("should_stop", STOP_CB),
        ("client_payload", c_void_p),
        ("confirm", c_int),
        ("_spare", c_char * _SPARE),
    ]


HL_CALL_OPTIONS_VERSION = 3

# hl_error_class (homelab/errors.h) given to errors of Python tool handlers.
HL_ERROR_TOOL = 7

TOOL_HANDLER = CFUNCTYPE(c_int, POINTER(HlBuf), CtxP, c_char_p, POINTER(HlCallOptions), c_void_p)


class HlToolDef(Structure):
    """``hl_tool_def`` (homelab/tool.h)."""

    _fields_ = [
        ("version", c_uint),
        ("name", c_char_p),
        ("title", c_char_p),
        ("description", c_char_p),
        ("input_schema", c_char_p),
        ("output_schema", c_char_p),
        ("scope", c_char_p),
        ("flags", c_uint),
        ("handler", TOOL_HANDLER),
        ("payload", c_void_p),
        ("_spare", c_char * _SPARE),
    ]


HL_TOOL_DEF_VERSION = 1

# (name, restype, argtypes). Fallible functions return int; the callers in
# errors.py / client.py turn a negative result into an exception at once.
_FUNCTIONS = [
    ("hl_version", c_char_p, []),
    ("hl_error_last", POINTER(HlError), []),
    ("hl_error_clear", None, []),
    ("hl_error_set", c_int, [c_int, c_int, c_char_p]),  # variadic: called with "%s", msg
    ("hl_strerror", c_char_p, [c_int]),
    ("hl_error_name", c_char_p, [c_int]),
    ("hl_buf_dispose", None, [POINTER(HlBuf)]),
    ("hl_buf_set", c_int, [POINTER(HlBuf), c_char_p, c_size_t]),
    ("hl_ctx_open", c_int, [POINTER(CtxP), POINTER(HlCtxOptions)]),
    ("hl_ctx_free", None, [CtxP]),
    ("hl_ctx_db_path", c_char_p, [CtxP]),
    ("hl_ctx_readonly", c_int, [CtxP]),
    ("hl_ctx_schema_version", c_int, [CtxP]),
    ("hl_schema_version", c_int, []),
    ("hl_inventory_load_demo", c_int, [CtxP]),
    ("hl_tool_next", ToolP, [ToolP]),
    ("hl_tool_lookup", ToolP, [c_char_p]),
    ("hl_tool_count", c_size_t, []),
    ("hl_tool_name", c_char_p, [ToolP]),
    ("hl_tool_title", c_char_p, [ToolP]),
    ("hl_tool_description", c_char_p, [ToolP]),
    ("hl_tool_input_schema", c_char_p, [ToolP]),
    ("hl_tool_output_schema", c_char_p, [ToolP]),
    ("hl_tool_scope", c_char_p, [ToolP]),
    ("hl_tool_flags", c_uint, [ToolP]),
    ("hl_tool_call", c_int, [POINTER(HlBuf), CtxP, ToolP, c_char_p, POINTER(HlCallOptions)]),
    ("hl_tool_validate", c_int, [ToolP, c_char_p]),
    ("hl_tool_register", c_int, [POINTER(ToolP), POINTER(HlToolDef)]),
]

# For Python tool handlers (homelab/tool.h); they read only the fields of the
# version the caller filled in.
_HANDLER_FUNCTIONS = [
    ("hl_tool_log", None, [POINTER(HlCallOptions), c_int, c_char_p, c_char_p]),  # variadic: "%s", msg
    ("hl_tool_should_stop", c_int, [POINTER(HlCallOptions)]),
]

# Declared only when the loaded library has them (newer than the core API).
_OPTIONAL_FUNCTIONS = [
    ("hl_vault_unlock", c_int, [CtxP]),
    ("hl_vault_keygen", c_int, [c_char_p, c_size_t]),
]

# ----------------------------------------------------------------- loading ---


_lock = threading.Lock()
_lib: Optional[ctypes.CDLL] = None
_lib_path: Optional[str] = None


def _source_root() -> Optional[Path]:
    """The source checkout this package sits in, if any."""
    for parent in Path(__file__).resolve().parents:
        if (parent / "libhomelab" / "include" / "homelab.h").is_file():
            return parent
    return None


def candidates() -> List[Tuple[str, str]]:
    """Where the library is looked for: [(how, path-or-name)], in order."""
    env = os.environ.get("HOMELAB_LIBRARY")
    if env:
        p = Path(env)
        if p.is_dir():
            return [("HOMELAB_LIBRARY", str(p / SONAME)), ("HOMELAB_LIBRARY", str(p / "libhomelab.so"))]
        return [("HOMELAB_LIBRARY", env)]
    out = []
    root = _source_root()
    if root is not None:
        out.append(("build tree", str(root / "build" / SONAME)))
        for d in sorted(root.glob("build-*")):
            out.append(("build tree", str(d / SONAME)))
    found = ctypes.util.find_library("homelab")
    if found:
        out.append(("system (find_library)", found))
    out.append(("system loader", SONAME))
    return out


def _asan_hint(reasons: List[str]) -> str:
    if any("asan" in r.lower() for r in reasons):
        return ("; a library built with HOMELAB_SANITIZE=ON needs the ASan runtime loaded first: "
                "LD_PRELOAD=$(gcc -print-file-name=libasan.so) ASAN_OPTIONS=detect_leaks=0")
    return ""


def _needs_asan(path: str) -> bool:
    """True when path is linked against libasan but this process has no ASan runtime.

    dlopen()ing such a library would not fail politely: the ASan runtime
    aborts the whole process ("ASan runtime does not come first").
    """
    try:
        with open(path, "rb") as f:
            with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
                if m.find(b"libasan.so") < 0:
                    return False
        with open("/proc/self/maps") as maps:
            return "libasan.so" not in maps.read()
    except (OSError, ValueError):
        return False


def _declare(lib: ctypes.CDLL, path: str) -> None:
    for name, restype, argtypes in _FUNCTIONS + _HANDLER_FUNCTIONS:
        try:
            fn = getattr(lib, name)
        except AttributeError:
            raise LibraryNotFoundError(f"{path}: symbol {name} is missing; this libhomelab is too old "
                                       f"for the Python binding") from None
        fn.restype = restype
        fn.argtypes = argtypes
    for name, restype, argtypes in _OPTIONAL_FUNCTIONS:
        fn = getattr(lib, name, None)
        if fn is not None:
            fn.restype = restype
            fn.argtypes = argtypes


def has(name: str) -> bool:
    """Does the loaded library export this (optional) function?"""
    return hasattr(load(), name)


def has_vault() -> bool:
    """Does the loaded library have the credential vault (and hl_ctx_options.db_key)?"""
    return has("hl_vault_unlock")


def load() -> ctypes.CDLL:
    """Load and declare libhomelab once per process; return the CDLL."""
    global _lib, _lib_path
    if _lib is not None:
        return _lib
    with _lock:
        if _lib is not None:
            return _lib
        tried = []
        reasons = []
        for how, where in candidates():
            is_path = os.sep in where
            if is_path and not os.path.exists(where):
                tried.append(f"{where} ({how}: no such file)")
                continue
            if is_path and _needs_asan(where):
                tried.append(f"{where} ({how}: built with AddressSanitizer, and the ASan runtime is not loaded)")
                reasons.append("asan")
                continue
            try:
                lib = ctypes.CDLL(where)
            except OSError as e:
                tried.append(f"{where} ({how}: {e})")
                reasons.append(str(e))
                continue
            _declare(lib, where)
            _lib, _lib_path = lib, where
            return lib
        extra = ""
        if os.environ.get("HOMELAB_LIBRARY"):
            extra = " (HOMELAB_LIBRARY is set, so nothing else was tried)"
        raise LibraryNotFoundError("could not load libhomelab" + extra + "; looked in: " + "; ".join(tried)
                                   + _asan_hint(reasons))


def path() -> Optional[str]:
    """The file (or soname) the library was loaded from, once loaded."""
    return _lib_path


def text(p: Optional[bytes]) -> Optional[str]:
    """A lent C string as str (None stays None)."""
    return None if p is None else p.decode("utf-8", errors="replace")
