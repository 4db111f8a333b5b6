#!/usr/bin/env python3
"""Library errors as Python exceptions, with the library's own messages.

    python3 examples/python/error_handling.py
"""
import tempfile
import os

import homelab


def main(db_path: str) -> None:
    with homelab.Homelab(db_path) as hl:
        hl.load_demo()

        # NotFoundError is also a KeyError.
        try:
            hl.get_vm(name="atlantis")
        except KeyError as e:
            print(f"not found: {e} [{e.name}]")

        # InvalidArgumentError is also a ValueError; the message names the field.
        try:
            hl.list_vms(status="sleeping")
        except ValueError as e:
            print(f"invalid: {e}")

        # Every error is a HomelabError with a code from the library.
        try:
            hl.load_demo()
        except homelab.HomelabError as e:
            print(f"{type(e).__name__} ({e.code}, {e.name}): {e}")

    # A closed handle refuses to work.
    try:
        hl.list_vms()
    except homelab.ClosedError as e:
        print(f"closed: {e}")

    print("codes:", ", ".join(name for _, (name, _) in sorted(homelab.error_codes().items(), reverse=True)))


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as d:
        main(os.path.join(d, "homelab.db"))
