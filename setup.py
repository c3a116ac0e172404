"""Build hook: compile the protocol core with mypyc where that is possible.

Everything else about the package is in pyproject.toml; what is compiled is
decided in rkmp_frr/build.py. The pure-Python source is always installed
too and is the fallback: a build without a C compiler (or with
RKMP_MYPYC=0) simply has no extension modules.

RKMP_MYPYC selects the build:
  auto (default)  compile a wheel (and `build_ext --inplace`, which
                  scripts/setup.sh runs in a checkout) if a C compiler can
                  build against this Python's headers; never for an
                  editable install, whose sources must stay what runs
  1               compile, or fail
  0               pure Python
"""

from __future__ import annotations

import os
import sys
import sysconfig
import tempfile
from pathlib import Path

from setuptools import setup

sys.path.insert(0, str(Path(__file__).resolve().parent))
from rkmp_frr.build import compiled_sources  # (found through the path above)

# mypyc's version decides what compiles (its bugs and workarounds differ by
# release), so the build pins it.
MYPY_REQUIREMENT = "mypy==2.4.1"


def _mode() -> str:
    mode = os.environ.get("RKMP_MYPYC", "auto").strip().lower()
    if mode not in ("auto", "0", "1"):
        sys.exit(f"setup.py: RKMP_MYPYC must be auto, 0 or 1, not {mode!r}")
    return mode


def _compiler_works() -> bool:
    """Can a C compiler build an extension against this Python?"""
    from setuptools._distutils.ccompiler import new_compiler
    from setuptools._distutils.errors import CCompilerError, DistutilsError
    from setuptools._distutils.sysconfig import customize_compiler

    include = sysconfig.get_paths()["include"]
    if not Path(include, "Python.h").is_file():
        return False
    compiler = new_compiler()
    customize_compiler(compiler)
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp, "probe.c")
        source.write_text("#include <Python.h>\nint rkmp_probe(void) { return 0; }\n")
        try:
            compiler.compile([str(source)], output_dir=tmp, include_dirs=[include])
        except (CCompilerError, DistutilsError, OSError):
            return False
    return True


def _ext_modules() -> list[object]:
    from mypyc.build import mypycify  # only imported when compiling

    # --no-warn-unused-configs: pyproject's [tool.mypy] has overrides for
    # modules outside this build, and mypyc treats that note as an error.
    return list(
        mypycify(
            ["--no-warn-unused-configs", *compiled_sources()],
            opt_level="3",
            group_name="rkmp_frr_core",
        )
    )


def main() -> None:
    mode = _mode()
    editable = "editable_wheel" in sys.argv
    # setuptools runs this file for metadata first (egg_info/dist_info, also
    # to collect build requirements); mypyc's code generation waits for the
    # real build.
    metadata_only = any(command in sys.argv for command in ("egg_info", "dist_info"))
    wanted = mode == "1" or (mode == "auto" and not editable)
    if wanted and mode == "auto" and not _compiler_works():
        print("setup.py: no working C compiler, building pure Python", file=sys.stderr)
        wanted = False
    kwargs: dict[str, object] = {}
    if wanted:
        try:
            import mypyc.build  # noqa: F401
        except ImportError:
            if metadata_only:
                # Under PEP 517 setuptools turns setup_requires into a build
                # requirement, so the build environment gets mypy.
                kwargs["setup_requires"] = [MYPY_REQUIREMENT]
            elif mode == "1":
                sys.exit("setup.py: RKMP_MYPYC=1 but mypy is not installed")
            else:
                print("setup.py: mypy not installed, building pure Python", file=sys.stderr)
        else:
            if not metadata_only:
                kwargs["ext_modules"] = _ext_modules()
    setup(**kwargs)


main()
