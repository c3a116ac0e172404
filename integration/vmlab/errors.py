"""Why the lab did not produce results: unavailable (skip) or broken (fail)."""

from __future__ import annotations


class LabError(Exception):
    """The lab ran and something in it failed (a build step, the guest)."""


class LabUnavailable(LabError):
    """This machine cannot run the lab at all: not root, QEMU or debootstrap
    missing, or the Debian/PyPI registries cannot be reached. Tests skip
    with this message; every other LabError is a failure."""
