"""Python packages for the guest: dependency wheels and the project's wheel.

pip inside the guest's chroot cannot verify TLS here, so every wheel is
fetched on the host for the guest's Python (`--python-version X.Y
--only-binary=:all:`) and installed offline inside. The project's own
wheel is built from a copy of its sources (never in the work tree, whose
`build/` could hold stale modules) and unpacked into the guest's venv by
`install_wheel`, which needs no guest Python at all.
"""

from __future__ import annotations

import configparser
import hashlib
import os
import re
import shutil
import sys
import tempfile
import tomllib
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from integration.vmlab.errors import LabError, LabUnavailable
from integration.vmlab.proc import run_command

PIP_TIMEOUT = 600.0
# What a wheel build needs from the project (pyproject's readme included).
PROJECT_FILES = ("pyproject.toml", "README.md")
PROJECT_PACKAGE = "rkmp_frr"
# pip's words when the index cannot be reached (anything else is a real error).
_NETWORK_FAILURES = re.compile(
    r"Failed to establish a new connection|Max retries exceeded|Temporary failure in name"
    r"|Network is unreachable|Connection refused|Read timed out|ProxyError|SSLError"
    r"|No matching distribution found|Could not find a version that satisfies"
    r"|: no result after"  # run_command's timeout: a hung connection
)


@dataclass(frozen=True)
class Wheel:
    path: Path
    sha256: str

    @property
    def name(self) -> str:
        return self.path.name


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def project_requirements(project_root: Path) -> list[str]:
    """[project].dependencies of pyproject.toml."""
    data = tomllib.loads((project_root / "pyproject.toml").read_text())
    return [str(d) for d in data["project"].get("dependencies", [])]


def _pip_env() -> dict[str, str]:
    # A host-wide find-links directory holds wheels for the host's Python,
    # not the guest's; the index alone decides.
    env = dict(os.environ)
    env.pop("PIP_FIND_LINKS", None)
    env.pop("PIP_NO_INDEX", None)
    return env


def _pip(argv: Sequence[str], log: Path) -> None:
    """Run pip; an unreachable index is LabUnavailable, other failures LabError."""
    try:
        run_command([sys.executable, "-m", "pip", *argv], log=log, timeout=PIP_TIMEOUT,
                    env=_pip_env())  # fmt: skip
    except LabError as exc:
        if _NETWORK_FAILURES.search(str(exc)):
            raise LabUnavailable(f"PyPI unreachable: {exc}") from exc
        raise


def download_wheels(
    requirements: Sequence[str], python_version: str, store: Path, log: Path
) -> tuple[Wheel, ...]:
    """Wheels of `requirements` (and their dependencies) for the guest's
    CPython, kept in `store`; exactly the set pip chose this time.

    pip's HTTP cache makes a repeat run cheap; the registry must still be
    reachable (LabUnavailable otherwise).
    """
    store.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=store) as fresh:
        _pip(
            [
                "download", "-q", "--python-version", python_version, "--implementation", "cp",
                "--only-binary=:all:", "--dest", fresh, *requirements,
            ],
            log,
        )  # fmt: skip
        wheels: list[Wheel] = []
        for path in sorted(Path(fresh).glob("*.whl")):
            kept = store / path.name
            if not kept.exists():
                shutil.move(path, kept)
            wheels.append(Wheel(kept, file_sha256(kept)))
    if not wheels:
        raise LabError(f"pip download got no wheels for {list(requirements)}")
    return tuple(wheels)


def build_project_wheel(project_root: Path, dest: Path, log: Path) -> Path:
    """`pip wheel --no-deps` of a clean copy of the project; the .whl path."""
    with tempfile.TemporaryDirectory(prefix="rkmp-vmlab-src-") as tmp:
        source = Path(tmp) / "src"
        source.mkdir()
        for name in PROJECT_FILES:
            shutil.copy2(project_root / name, source / name)
        shutil.copytree(
            project_root / PROJECT_PACKAGE,
            source / PROJECT_PACKAGE,
            # Compiled modules are the host's build: the guest gets pure Python.
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.so"),
        )
        out = Path(tmp) / "out"
        # The build backend comes from the index (build isolation).
        _pip(["wheel", "-q", "--no-deps", "--wheel-dir", str(out), str(source)], log)
        built = sorted(out.glob("*.whl"))
        if len(built) != 1:
            raise LabError(f"pip wheel built {built}, expected one wheel")
        dest.mkdir(parents=True, exist_ok=True)
        target = dest / built[0].name
        shutil.move(built[0], target)
        return target


CONSOLE_SCRIPT = """#!{python}
import importlib
import sys

target = importlib.import_module({module!r})
for attribute in {attributes!r}:
    target = getattr(target, attribute)
if __name__ == "__main__":
    sys.exit(target())
"""


def install_wheel(wheel: Path, site_packages: Path, bin_dir: Path, python: str) -> list[str]:
    """Unpack a pure-Python wheel into `site_packages` and write its console
    scripts (shebang `python`) into `bin_dir`; returns the script names."""
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        if any(".data/" in n for n in names):
            raise LabError(f"{wheel.name} has a .data directory; install_wheel does not handle it")
        archive.extractall(site_packages)
        dist_info = next(n.split("/")[0] for n in names if n.split("/")[0].endswith(".dist-info"))
    parser = configparser.ConfigParser(delimiters=("=",))
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    entry_points = site_packages / dist_info / "entry_points.txt"
    if entry_points.exists():
        parser.read(entry_points)
    scripts: list[str] = []
    if parser.has_section("console_scripts"):
        bin_dir.mkdir(parents=True, exist_ok=True)
        for name, target in parser.items("console_scripts"):
            module, _, attributes = target.strip().partition(":")
            script = bin_dir / name
            script.write_text(
                CONSOLE_SCRIPT.format(
                    python=python, module=module.strip(),
                    attributes=tuple(a for a in attributes.strip().split(".") if a),
                )
            )  # fmt: skip
            script.chmod(0o755)
            scripts.append(name)
    return scripts
