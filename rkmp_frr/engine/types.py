"""Small shared types of the engine."""

from __future__ import annotations

from typing import TypeAlias

# An opaque transport address, ``(host, port)``. The engine never opens a
# socket: it only routes by it and hands it back with datagrams to send.
Address: TypeAlias = tuple[str, int]
