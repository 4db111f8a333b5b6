#!/usr/bin/env python3
"""Progress reports and cancelling a running tool.

A tool written in Python joins the library's table (hl_tool_register), so
it is called like any built-in tool, e.g. the coming ollama_pull_model:

    hl.call("ollama_pull_model", model_name="gemma:2b", progress=show)

Raising in the progress callback stops the tool; the exception comes back
out of call().
"""
import os
import tempfile
import time

import homelab


def fake_download(args, call):
    """A stand-in for a long download: reports progress, honours a stop."""
    total = args["chunks"]
    for i in range(1, total + 1):
        time.sleep(0.01)
        call.progress(f"chunk {i}/{total}", i, total)  # raises CancelledError if told to stop
    return {"name": args["name"], "chunks": total}


homelab.register_tool(
    "example_download", fake_download,
    title="Download something (example)",
    description="Pretend to download a file in chunks, reporting progress.",
    scope="example:run",
    input_schema={"type": "object", "required": ["name", "chunks"], "additionalProperties": False,
                  "properties": {"name": {"type": "string", "description": "what to download"},
                                 "chunks": {"type": "integer", "minimum": 1, "maximum": 100}}},
    flags=homelab.ToolFlags.PROGRESS)


class TooSlow(Exception):
    pass


def main(db_path: str) -> None:
    with homelab.Homelab(db_path) as hl:
        def show(p: homelab.Progress) -> None:
            print(f"  {p.message} ({p.fraction:.0%})")

        print(hl.example_download(name="gemma:2b", chunks=4, progress=show))

        def impatient(p: homelab.Progress) -> None:
            if p.completed >= 2:
                raise TooSlow(f"gave up after {p.completed:.0f} chunks")

        try:
            hl.call("example_download", name="llama3:70b", chunks=50, progress=impatient)
        except TooSlow as e:
            print(f"cancelled: {e}")


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as d:
        main(os.path.join(d, "homelab.db"))
