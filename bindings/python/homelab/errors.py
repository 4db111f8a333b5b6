"""The exception hierarchy, mapped from libhomelab's error codes.

Every failure of a library call raises a :class:`HomelabError` subclass that
carries the library's own one-line message (``str(e)``), its code
(``e.code``, a negative int), the code's symbolic name (``e.name``, e.g.
``"HL_ENOTFOUND"``) and the error class (``e.klass``).

Codes and names come from the loaded library (``hl_error_name`` and
``hl_strerror``), never from a copy of the C enum: :func:`error_codes` lists
what the library knows. The only thing written here is which Python class a
*name* maps to, so that callers can catch, for example, a missing VM as a
``KeyError``. A code this file does not know (added to a newer library) still
raises :class:`HomelabError`, with its name and message.
"""

from __future__ import annotations

import builtins
from typing import Dict, Optional, Tuple, Type


class HomelabError(Exception):
    """Base of every error raised by the homelab package.

    Attributes:
        message: the library's message (also ``str(e)``)
        code: the hl_error_code (negative int), or None for errors that do
            not come from the library (a closed handle, ...)
        name: the code's symbolic name ("HL_ENOTFOUND"), or None
        klass: the library's hl_error_class (int), or None
        tool: the tool being called, when the error came from a tool call
    """

    def __init__(self, message: str, code: Optional[int] = None, name: Optional[str] = None,
                 klass: Optional[int] = None, tool: Optional[str] = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.name = name
        self.klass = klass
        self.tool = tool

    def __str__(self) -> str:
        # KeyError's own __str__ would quote the message like a key.
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, code={self.code!r}, name={self.name!r})"

    def __reduce__(self):  # keep the attributes when pickled (multiprocessing, ...)
        return (type(self), (self.message, self.code, self.name, self.klass, self.tool))


class OutOfMemoryError(HomelabError, MemoryError):
    """HL_ENOMEM: the library ran out of memory."""


class NotFoundError(HomelabError, KeyError):
    """HL_ENOTFOUND: the named VM, host, service, IP or tool does not exist."""


class AlreadyExistsError(HomelabError):
    """HL_EEXISTS: an object with that name or address already exists."""


class InvalidArgumentError(HomelabError, ValueError):
    """HL_EINVALID: an argument is malformed; the message names the field."""


class AuthError(HomelabError, PermissionError):
    """HL_EAUTH: authentication or authorisation refused."""


class TimeoutError(HomelabError, builtins.TimeoutError):  # noqa: A001 (shadows the builtin on purpose)
    """HL_ETIMEOUT: the operation timed out (also a builtins.TimeoutError)."""


class UnreachableError(HomelabError, ConnectionError):
    """HL_EUNREACHABLE: a remote host or service could not be reached."""


class CancelledError(HomelabError):
    """HL_EUSER: a callback asked the operation to stop.

    When a Python progress callback raised, the binding re-raises that
    exception instead; CancelledError is what a tool handler raises (or
    what ToolCall.progress raises) when the caller asked to stop.
    """


class ReadOnlyError(HomelabError):
    """HL_EREADONLY: the database is read-only."""


class CorruptError(HomelabError):
    """HL_ECORRUPT: not a homelab database, or a damaged one."""


class FullError(HomelabError):
    """HL_EFULL: no free address left in the subnet."""


class BusyError(HomelabError):
    """HL_EBUSY: the database stayed locked by another writer."""


class InUseError(HomelabError):
    """HL_EINUSE: the object is still referenced (a host with VMs, ...)."""


class VaultLockedError(HomelabError):
    """HL_ELOCKED: the credential vault has no key (see Homelab(key=...))."""


class IntegrityError(HomelabError):
    """HL_EINTEGRITY: authenticated data failed its integrity check."""


class UnsupportedError(HomelabError):
    """HL_EUNSUPPORTED: the client or front end cannot do this (ask the person, sample)."""


class DeclinedError(HomelabError):
    """HL_EDECLINED: the person declined or cancelled the confirmation: nothing was run."""


class ClosedError(HomelabError):
    """The Homelab handle was closed; open a new one."""


class LibraryNotFoundError(HomelabError, OSError):
    """libhomelab could not be loaded; the message lists every place tried."""


# Symbolic name -> class. Names are the library's (hl_error_name); numbers
# are never written here.
_BY_NAME: Dict[str, Type[HomelabError]] = {
    "HL_ERROR": HomelabError,
    "HL_ENOMEM": OutOfMemoryError,
    "HL_ENOTFOUND": NotFoundError,
    "HL_EEXISTS": AlreadyExistsError,
    "HL_EINVALID": InvalidArgumentError,
    "HL_EAUTH": AuthError,
    "HL_ETIMEOUT": TimeoutError,
    "HL_EUNREACHABLE": UnreachableError,
    "HL_EUSER": CancelledError,
    "HL_EREADONLY": ReadOnlyError,
    "HL_ECORRUPT": CorruptError,
    "HL_EFULL": FullError,
    "HL_EBUSY": BusyError,
    "HL_EINUSE": InUseError,
    "HL_ELOCKED": VaultLockedError,
    "HL_EINTEGRITY": IntegrityError,
    "HL_EUNSUPPORTED": UnsupportedError,
    "HL_EDECLINED": DeclinedError,
}

_codes: Optional[Dict[int, Tuple[str, str]]] = None


def error_codes() -> Dict[int, Tuple[str, str]]:
    """{code: (name, text)} for every code the loaded library names."""
    global _codes
    if _codes is None:
        from . import _lib
        lib = _lib.load()
        table = {}
        # Codes are small negative numbers, added at the end and never
        # renumbered; scan generously so a newer library's codes show up.
        for code in range(0, -1024, -1):
            name = lib.hl_error_name(code)
            if name is not None:
                table[code] = (name.decode(), lib.hl_strerror(code).decode())
        _codes = table
    return _codes


def code_of(name: str) -> int:
    """The number of a code by its symbolic name ("HL_EUSER"), from the library."""
    for code, (n, _) in error_codes().items():
        if n == name:
            return code
    raise KeyError(name)


def class_for(code: int) -> Type[HomelabError]:
    """The exception class for a code (HomelabError when unknown)."""
    entry = error_codes().get(code)
    return _BY_NAME.get(entry[0], HomelabError) if entry else HomelabError


def from_code(code: int, message: Optional[str] = None, klass: Optional[int] = None,
              tool: Optional[str] = None) -> HomelabError:
    """Build (not raise) the exception for a code and message."""
    entry = error_codes().get(code)
    name = entry[0] if entry else None
    if not message:
        message = entry[1] if entry else f"unknown error code {code}"
    return class_for(code)(message, code, name, klass, tool)


def last_error(code: int, tool: Optional[str] = None) -> HomelabError:
    """The exception for a failed call that returned code.

    Must be called at once, on the thread that made the call: it reads that
    thread's hl_error_last(). If the message belongs to another code (the
    function did not set one), the code's static text is used instead.
    """
    from . import _lib
    err = _lib.load().hl_error_last().contents
    if err.code == code and err.message:
        return from_code(code, err.message.decode("utf-8", errors="replace"), err.klass, tool)
    return from_code(code, None, None, tool)


def check(code: int, tool: Optional[str] = None) -> int:
    """Raise the mapped exception when code is negative; return it otherwise."""
    if code < 0:
        raise last_error(code, tool)
    return code
