#!/usr/bin/env python3
"""Print the tool table as Python sees it: each tool's method and signature.

    python3 examples/python/list_tools.py
"""
import inspect

import homelab

for t in homelab.tools():
    if t.method:
        sig = str(inspect.signature(getattr(homelab.Homelab, t.method))).replace("self, ", "").replace("(self)", "()")
        print(f"hl.{t.method}{sig}")
    else:
        print(f"hl.call({t.name!r}, ...)")
    print(f"    {t.title} [{t.scope}; {', '.join(t.annotations) or '-'}]")
