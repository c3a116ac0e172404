"""Which build of the protocol core runs: pure Python or compiled by mypyc.

The wire codec, crypto wrappers and engine are compiled by mypyc when a C
compiler is there (``scripts/setup.sh`` in a checkout, ``setup.py`` for a
wheel); the source is the same and stays the fallback. A compiled module is
an extension module next to its ``.py`` file, which the import system
prefers, so a checkout's compiled modules must match its sources: the
build records a digest of them (:func:`source_digest`) and the test suites
refuse to run against a stale build (:func:`stale_build_reason`).

What the source does for the compiler: the hot frozen dataclasses write
their ``__init__`` out (``object.__setattr__`` per field, which mypyc turns
into a native store), since the one ``dataclass`` generates stays Python
code, ~25 times slower compiled (tests/test_written_out_inits.py checks
that each is the generated one); classes of the core take no Python
subclass, and exceptions on a hot path are avoided (a compiled raise
builds its traceback eagerly).

    python -m rkmp_frr.build status|fresh|stamp   (see main)
"""

from __future__ import annotations

import hashlib
import importlib
import platform
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent  # the checkout (or site-packages)
COMPILED_PACKAGES = ("rkmp_frr/wire", "rkmp_frr/crypto", "rkmp_frr/engine")
# Not compiled: engine/state.py (its errors subclass RuntimeError, which a
# mypyc class cannot).
NOT_COMPILED = frozenset({"rkmp_frr/engine/state.py"})
# Modules the build compiles; all or none of them are loaded compiled.
CORE_MODULES = ("rkmp_frr.wire.header", "rkmp_frr.crypto.protection", "rkmp_frr.engine.engine")
BUILD_SCRIPT = "setup.py"
STAMP = Path("build/core.stamp")  # under ROOT: the digest the in-tree build was made from


def compiled_sources(root: Path = ROOT) -> list[str]:
    """The source files the build compiles, relative to ``root``, sorted."""
    found = (
        path.relative_to(root).as_posix()
        for package in COMPILED_PACKAGES
        for path in (root / package).rglob("*.py")
    )
    return sorted(path for path in found if path not in NOT_COMPILED)


def source_digest(root: Path = ROOT) -> str:
    """What a compiled build depends on: the compiled sources, the modules
    they import types from (a change there changes the generated C), the
    build script and the interpreter."""
    digest = hashlib.sha256(f"{platform.python_implementation()} {sys.version}\n".encode())
    watched = [*compiled_sources(root), *sorted(NOT_COMPILED), BUILD_SCRIPT]
    for name in watched:
        digest.update(name.encode() + b"\0" + (root / name).read_bytes() + b"\0")
    return digest.hexdigest()


def in_tree_modules(root: Path = ROOT) -> list[Path]:
    """Compiled modules lying in a checkout (the shared runtime library of
    the build group sits at the top)."""
    return sorted([*(root / "rkmp_frr").rglob("*.so"), *root.glob("rkmp_frr_core__mypyc*.so")])


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


def build_name() -> str:
    return "compiled" if is_compiled() else "pure Python"


def stale_build_reason(root: Path = ROOT) -> str | None:
    """Why the compiled modules in a checkout do not match its sources, or
    None (none there, or up to date). An installed wheel has no stamp and
    no sources to compare with: None."""
    if not in_tree_modules(root) or not (root / "pyproject.toml").is_file():
        return None
    stamp = root / STAMP
    if not stamp.is_file():
        return f"compiled modules in {root} have no build stamp ({STAMP})"
    if stamp.read_text().strip() != source_digest(root):
        return f"compiled modules in {root} are older than their sources"
    return None


def main(argv: list[str]) -> int:
    """``status``: which build runs; ``fresh``: exit 0 if the in-tree build
    matches the sources, 1 if not (or there is none); ``stamp``: record the
    sources' digest after a build."""
    command = argv[0] if argv else "status"
    if command == "fresh":
        return 0 if in_tree_modules() and stale_build_reason() is None else 1
    if command == "stamp":
        (ROOT / STAMP).parent.mkdir(exist_ok=True)
        (ROOT / STAMP).write_text(source_digest() + "\n")
        return 0
    if command == "status":
        stale = stale_build_reason()
        print(build_name() + (f" (stale: {stale})" if stale else ""))
        return 0
    print(f"usage: python -m rkmp_frr.build [status|fresh|stamp], not {command!r}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
