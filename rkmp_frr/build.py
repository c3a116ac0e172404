"""Which build of the protocol core is running: pure Python or compiled.

The wire codec, crypto wrappers and engine may be compiled by mypyc when
the package is built with a C compiler (see setup.py); the source is the
same and stays the fallback. Compiled modules are extension modules, so
their ``__file__`` does not end in ``.py``.
"""

from __future__ import annotations

import importlib

# Modules setup.py compiles; the first one decides (they are built together).
CORE_MODULES = ("rkmp_frr.wire.header", "rkmp_frr.crypto.protection", "rkmp_frr.engine.engine")


def compiled_modules() -> tuple[str, ...]:
    """The core modules loaded from an extension module."""
    found = []
    for name in CORE_MODULES:
        path = getattr(importlib.import_module(name), "__file__", None) or ""
        if not path.endswith(".py"):
            found.append(name)
    return tuple(found)


def is_compiled() -> bool:
    return bool(compiled_modules())
