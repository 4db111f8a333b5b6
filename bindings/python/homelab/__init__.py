"""homelab: every libhomelab tool, from Python (ctypes; no compiled extension).

::

    import homelab

    with homelab.Homelab(db_path="/tmp/lab.db") as hl:
        hl.load_demo()
        for vm in hl.list_vms(status="running")["vms"]:
            print(vm["name"], vm["ip"])
        hl.call("homelab_lookup_ip", ip="127.0.1.201")

Tools come from the library's table at run time: ``homelab.tools()`` lists
them, ``hl.call(name, **args)`` calls any of them, and each one also has a
method named after it without the ``homelab_`` prefix (``-`` becomes ``_``),
whose signature and docstring come from the tool's schemas.

Errors raise :class:`HomelabError` subclasses (see :mod:`homelab.errors`).
The library is found through $HOMELAB_LIBRARY, then the source tree's
build directories, then the system loader (see :mod:`homelab._lib`).
"""

from . import _lib, client
from .client import (Homelab, Progress, ToolCall, ToolFlags, ToolInfo, generate_key, method_name_for,
                     register_tool, tool, tools, version)
from .errors import (AlreadyExistsError, AuthError, BusyError, CancelledError, ClosedError, CorruptError,
                     DeclinedError, FullError, HomelabError, InUseError, IntegrityError, InvalidArgumentError,
                     LibraryNotFoundError, NotFoundError, OutOfMemoryError, ReadOnlyError, TimeoutError,
                     UnreachableError, UnsupportedError, VaultLockedError, error_codes)

__version__ = "0.1.0"

#: Short alias used by the style guide.
InvalidError = InvalidArgumentError


def library_path():
    """The libhomelab file in use (loading it if needed)."""
    _lib.load()
    return _lib.path()


def load_library():
    """Load libhomelab now (it is otherwise loaded on first use); raises LibraryNotFoundError."""
    _lib.load()
    client._sync()


# Give Homelab its tool methods at import when the library is at hand, so
# that help(homelab.Homelab) lists them; otherwise the first use reports
# where the library was looked for.
try:
    load_library()
except HomelabError:
    pass

__all__ = [
    "Homelab", "Progress", "ToolCall", "ToolFlags", "ToolInfo", "tools", "tool", "version", "register_tool",
    "generate_key",
    "method_name_for", "error_codes", "library_path", "load_library",
    "HomelabError", "OutOfMemoryError", "NotFoundError", "AlreadyExistsError", "InvalidArgumentError",
    "InvalidError", "AuthError", "TimeoutError", "UnreachableError", "CancelledError", "ReadOnlyError",
    "CorruptError", "FullError", "BusyError", "InUseError", "VaultLockedError", "IntegrityError",
    "UnsupportedError", "DeclinedError",
    "ClosedError", "LibraryNotFoundError",
]
