"""A private apt view of Debian trixie + trixie-backports for the builder.

The host's apt configuration is never changed: sources list, package lists,
cache and dpkg status all live under the lab's cache directory and are
passed to apt-get/apt-cache with -o options. Archive signatures are checked
against the host's debian-archive-keyring. The mirror is the host's own
(read from its apt sources) unless RKMP_VMLAB_MIRROR names another.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from integration.vmlab.config import BACKPORTS, KERNEL_METAPACKAGE, MIRROR_ENV, SUITE
from integration.vmlab.errors import LabError, LabUnavailable
from integration.vmlab.proc import run_command

KEYRING = Path("/usr/share/keyrings/debian-archive-keyring.gpg")
HOST_SOURCES = (Path("/etc/apt/sources.list"), Path("/etc/apt/sources.list.d"))
DEBIAN_CODENAMES = ("bullseye", "bookworm", "trixie", "forky", "sid", "unstable", "stable")
UPDATE_TIMEOUT = 300.0
QUERY_TIMEOUT = 60.0
DOWNLOAD_TIMEOUT = 600.0


@dataclass(frozen=True)
class DebPackage:
    """One binary package version as the archive lists it."""

    name: str
    version: str
    architecture: str
    sha256: str

    @property
    def spec(self) -> str:
        return f"{self.name}={self.version}"


def _uris_from_deb822(text: str) -> Iterator[tuple[str, str]]:
    for stanza in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        for line in stanza.splitlines():
            if line.startswith("#") or ":" not in line:
                continue
            key, _, value = line.partition(":")
            fields[key.strip().lower()] = value.strip()
        if "deb" not in fields.get("types", "").split():
            continue
        for uri in fields.get("uris", "").split():
            for suite in fields.get("suites", "").split():
                yield uri, suite


def _uris_from_one_line(text: str) -> Iterator[tuple[str, str]]:
    for line in text.splitlines():
        words = re.sub(r"\[[^]]*\]", "", line.split("#", 1)[0]).split()
        if len(words) >= 3 and words[0] == "deb":
            yield words[1], words[2]


def host_debian_mirror() -> str:
    """The Debian archive URI the host's apt already uses (or $RKMP_VMLAB_MIRROR)."""
    override = os.environ.get(MIRROR_ENV)
    if override:
        return override.rstrip("/")
    files: list[Path] = []
    for source in HOST_SOURCES:
        if source.is_dir():
            files.extend(sorted(source.glob("*.list")) + sorted(source.glob("*.sources")))
        elif source.is_file():
            files.append(source)
    for path in files:
        text = path.read_text(errors="replace")
        pairs = _uris_from_deb822(text) if path.suffix == ".sources" else _uris_from_one_line(text)
        for uri, suite in pairs:
            codename = suite.split("-")[0].split("/")[0]
            if (
                codename in DEBIAN_CODENAMES
                and "security" not in suite
                and uri.rstrip("/").endswith("/debian")
            ):
                return uri.rstrip("/")
    raise LabUnavailable(f"no Debian archive in the host's apt sources; set {MIRROR_ENV}")


@dataclass(frozen=True)
class Dependency:
    name: str
    relation: str | None  # "=", ">=", ... or None
    version: str | None


def parse_depends(field: str) -> list[list[Dependency]]:
    """A Depends field as groups of alternatives (`a (= 1), b | c`)."""
    groups: list[list[Dependency]] = []
    for group in field.split(","):
        alternatives: list[Dependency] = []
        for item in group.split("|"):
            match = re.fullmatch(r"\s*([^\s(]+)\s*(?:\(\s*([<>=]+)\s*([^)\s]+)\s*\))?\s*", item)
            if match is None:
                raise LabError(f"cannot parse dependency {item!r}")
            alternatives.append(Dependency(match.group(1), match.group(2), match.group(3)))
        if alternatives:
            groups.append(alternatives)
    return groups


def parse_stanzas(text: str) -> list[dict[str, str]]:
    """RFC 822 stanzas of apt-cache show output (continuation lines joined)."""
    stanzas: list[dict[str, str]] = []
    fields: dict[str, str] = {}
    last: str | None = None
    for line in [*text.splitlines(), ""]:
        if not line.strip():
            if fields:
                stanzas.append(fields)
            fields, last = {}, None
        elif line[0].isspace() and last is not None:
            fields[last] += "\n" + line.strip()
        else:
            key, _, value = line.partition(":")
            last = key.strip()
            fields[last] = value.strip()
    return stanzas


class PrivateApt:
    """apt-get/apt-cache on a private configuration under `root`."""

    def __init__(self, root: Path, mirror: str, log: Path) -> None:
        self.root = root
        self.mirror = mirror
        self.log = log
        self.lists = root / "lists"
        self.cache = root / "cache"
        self.sources = root / "sources.list"
        self.status = root / "status"

    def _options(self) -> list[str]:
        return [
            "-o", f"Dir::Etc::sourcelist={self.sources}",
            "-o", "Dir::Etc::sourceparts=-",
            "-o", f"Dir::State::Lists={self.lists}",
            "-o", f"Dir::Cache={self.cache}",
            "-o", f"Dir::State::status={self.status}",
            "-o", "Acquire::Languages=none",
            "-o", "APT::Architecture=amd64",
            "-o", "APT::Architectures::=amd64",
            "-o", "APT::Sandbox::User=root",  # private dirs are root's
        ]  # fmt: skip

    def _write_config(self) -> None:
        (self.lists / "partial").mkdir(parents=True, exist_ok=True)
        (self.cache / "archives" / "partial").mkdir(parents=True, exist_ok=True)
        self.status.touch()
        lines = [
            f"deb [signed-by={KEYRING}] {self.mirror} {suite} main" for suite in (SUITE, BACKPORTS)
        ]
        self.sources.write_text("\n".join(lines) + "\n")

    def update(self) -> None:
        """Fetch the package lists; unreachable archive -> LabUnavailable."""
        if not KEYRING.is_file():
            raise LabUnavailable(f"{KEYRING} missing (package debian-archive-keyring)")
        self._write_config()
        output = run_command(
            ["apt-get", *self._options(), "-q", "update"],
            log=self.log,
            timeout=UPDATE_TIMEOUT,
            error=LabUnavailable,
        )
        # apt-get update exits 0 even when a source failed ("old ones used
        # instead"); its Err:/W: lines say so.
        failed = [line for line in output.splitlines() if line.startswith(("Err:", "E:"))]
        if failed or "Failed to fetch" in output:
            raise LabUnavailable(f"apt-get update from {self.mirror} failed: {failed[:3]}")
        prefix = _list_prefix(self.mirror)
        for suite in (SUITE, BACKPORTS):
            if not any(self.lists.glob(f"{prefix}_dists_{suite}_main_binary-amd64_Packages*")):
                raise LabUnavailable(f"apt-get update got no {suite} list from {self.mirror}")

    def show(self, specs: Sequence[str]) -> list[dict[str, str]]:
        """apt-cache show for `specs` (`name/suite` or `name=version`), one
        stanza each, in order (one call: each call parses all lists)."""
        text = run_command(
            ["apt-cache", *self._options(), "show", *specs], log=self.log, timeout=QUERY_TIMEOUT
        )
        stanzas = parse_stanzas(text)
        if len(stanzas) != len(specs):
            raise LabError(f"apt-cache show {list(specs)}: got {len(stanzas)} stanzas")
        return stanzas

    def packages(self, specs: Sequence[str]) -> tuple[DebPackage, ...]:
        return tuple(_package(fields) for fields in self.show(specs))

    def suite_date(self, suite: str) -> str:
        """The Date of the suite's InRelease (changes at each point release)."""
        for path in self.lists.glob(f"*_dists_{suite}_InRelease"):
            for line in path.read_text(errors="replace").splitlines():
                if line.startswith("Date:"):
                    return line.removeprefix("Date:").strip()
        raise LabError(f"no InRelease for {suite} in {self.lists}")

    def download(self, packages: Sequence[DebPackage], dest: Path) -> list[Path]:
        """The .debs of `packages` in `dest` (already present ones are kept)."""
        dest.mkdir(parents=True, exist_ok=True)
        wanted = [p for p in packages if not _deb_path(dest, p).exists()]
        if wanted:
            run_command(
                ["apt-get", *self._options(), "-q", "download", *[p.spec for p in wanted]],
                log=self.log,
                timeout=DOWNLOAD_TIMEOUT,
                cwd=dest,
                error=LabUnavailable,
            )
        paths = [_deb_path(dest, p) for p in packages]
        missing = [str(p) for p in paths if not p.exists()]
        if missing:
            raise LabError(f"apt-get download left no {missing}")
        return paths


def _list_prefix(mirror: str) -> str:
    """How apt names list files of `mirror`: "host_debian" for http://host/debian."""
    return re.sub(r"^[a-z]+://", "", mirror).rstrip("/").replace(":", "%3a").replace("/", "_")


def _package(fields: dict[str, str]) -> DebPackage:
    return DebPackage(
        fields["Package"],
        fields["Version"],
        fields.get("Architecture", "amd64"),
        fields.get("SHA256", ""),
    )


def _deb_path(dest: Path, package: DebPackage) -> Path:
    # apt names downloads name_version_arch.deb with ':' in the version as %3a.
    version = package.version.replace(":", "%3a")
    return dest / f"{package.name}_{version}_{package.architecture}.deb"


def resolve_kernel(apt: PrivateApt) -> tuple[DebPackage, ...]:
    """The backports kernel: the metapackage and every `linux-*` package it
    pins with `(= version)`, recursively (image, binary, modules, base)."""
    found: dict[str, DebPackage] = {}
    level = [f"{KERNEL_METAPACKAGE}/{BACKPORTS}"]
    while level:
        pinned: list[str] = []
        for fields in apt.show(level):
            package = _package(fields)
            found[package.name] = package
            depends = ", ".join(f for f in (fields.get("Pre-Depends"), fields.get("Depends")) if f)
            for group in parse_depends(depends) if depends else []:
                pinned.extend(
                    f"{dep.name}={dep.version}"
                    for dep in group
                    if dep.name.startswith("linux-") and dep.relation == "=" and dep.version
                )
        level = sorted({spec for spec in pinned if spec.split("=")[0] not in found})
    if len(found) < 2:
        raise LabError(f"{KERNEL_METAPACKAGE} in {BACKPORTS} pins no kernel packages")
    return tuple(sorted(found.values(), key=lambda p: p.name))
