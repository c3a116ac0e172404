"""A writer for the "newc" cpio format the kernel unpacks as initramfs.

Format: Documentation/driver-api/early-userspace/buffer-format.rst in the
kernel tree: each entry is a 110-octet ASCII header ("070701" and thirteen
8-digit hex fields), the NUL-terminated name padded to 4 octets, then the
data padded to 4 octets; the archive ends with an entry named TRAILER!!!.
The kernel accepts several archives one after the other (later entries
replace earlier ones), which is how the lab lays the small project layer
over the cached base image.

Hard links are written as separate files (nlink 1): simpler, and the
kernel then never has to match inodes across entries.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

MAGIC = b"070701"
TRAILER = "TRAILER!!!"
BLOCK = 512  # archives are padded to this, so the next one starts aligned
CHUNK = 1 << 20


def _header(
    *,
    ino: int,
    mode: int,
    uid: int,
    gid: int,
    mtime: int,
    size: int,
    rdev: int,
    name_size: int,
) -> bytes:
    fields = (
        ino, mode, uid, gid, 1, mtime, size,
        0, 0, os.major(rdev), os.minor(rdev), name_size, 0,
    )  # fmt: skip
    return MAGIC + b"".join(b"%08x" % (value & 0xFFFFFFFF) for value in fields)


def _pad(length: int, alignment: int = 4) -> bytes:
    return b"\0" * (-length % alignment)


class CpioWriter:
    """Writes entries to a binary stream; `close` writes the trailer."""

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream
        self.offset = 0
        self.next_ino = 1

    def _write(self, data: bytes) -> None:
        self.stream.write(data)
        self.offset += len(data)

    def _entry_header(
        self,
        name: str,
        st_mode: int,
        size: int,
        *,
        uid: int = 0,
        gid: int = 0,
        mtime: int = 0,
        rdev: int = 0,
    ) -> None:
        encoded = name.encode() + b"\0"
        header = _header(
            ino=self.next_ino,
            mode=st_mode,
            uid=uid,
            gid=gid,
            mtime=mtime,
            size=size,
            rdev=rdev,
            name_size=len(encoded),
        )
        self.next_ino += 1
        self._write(header + encoded + _pad(len(header) + len(encoded)))

    def add_path(self, name: str, path: Path) -> None:
        """Add the file, directory, symlink or device node at `path` as `name`."""
        st = path.lstat()
        common = {"uid": st.st_uid, "gid": st.st_gid, "mtime": int(st.st_mtime)}
        if stat.S_ISLNK(st.st_mode):
            target = os.readlink(path).encode()
            self._entry_header(name, st.st_mode, len(target), **common)
            self._write(target + _pad(len(target)))
        elif stat.S_ISREG(st.st_mode):
            self._entry_header(name, st.st_mode, st.st_size, **common)
            written = 0
            with path.open("rb") as source:
                while chunk := source.read(CHUNK):
                    self._write(chunk)
                    written += len(chunk)
            if written != st.st_size:
                raise OSError(f"{path} changed size while being archived")
            self._write(_pad(written))
        elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
            self._entry_header(name, st.st_mode, 0, rdev=st.st_rdev, **common)
        else:  # directories, FIFOs, sockets: the header is all there is
            self._entry_header(name, st.st_mode, 0, **common)

    def add_bytes(self, name: str, data: bytes, mode: int = 0o644) -> None:
        """Add a regular file with contents `data` (root-owned)."""
        self._entry_header(name, stat.S_IFREG | mode, len(data))
        self._write(data + _pad(len(data)))

    def add_directory(self, name: str, mode: int = 0o755) -> None:
        self._entry_header(name, stat.S_IFDIR | mode, 0)

    def close(self) -> None:
        self._entry_header(TRAILER, 0, 0)
        self._write(_pad(self.offset, BLOCK))


def walk(root: Path) -> Iterator[tuple[str, Path]]:
    """(archive name, path) for everything below `root`, parents first, sorted."""
    stack = [root]
    while stack:
        directory = stack.pop()
        with os.scandir(directory) as entries:
            children = sorted(entries, key=lambda e: e.name, reverse=True)
        for entry in reversed(children):
            path = Path(entry.path)
            yield str(path.relative_to(root)), path
        stack.extend(Path(e.path) for e in children if e.is_dir(follow_symlinks=False))


def write_tree(root: Path, output: Path) -> int:
    """Archive the whole tree under `root` into `output`; returns its size."""
    with output.open("wb") as stream:
        writer = CpioWriter(stream)
        for name, path in walk(root):
            writer.add_path(name, path)
        writer.close()
        return writer.offset
