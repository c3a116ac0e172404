"""Encode-side field checks shared by the codec modules.

Decoding cannot produce out-of-range values (struct does not allow it), so
these run only when encoding objects built by hand.
"""

from __future__ import annotations

from rkmp_frr.wire.errors import EncodeError

UINT8_MAX = 0xFF
UINT16_MAX = 0xFFFF
UINT32_MAX = 0xFFFF_FFFF


def check_uint(name: str, value: object, maximum: int, minimum: int = 0) -> int:
    """Return ``value`` if it is an int in [minimum, maximum]."""
    if not isinstance(value, int) or not minimum <= value <= maximum:
        raise EncodeError(f"{name} must be an integer in {minimum}..{maximum}, got {value!r}")
    return value


def check_bytes(name: str, value: object, max_length: int, min_length: int = 0) -> bytes:
    """Return ``value`` as bytes if it is bytes-like of an allowed length.

    The value itself is never put into the message: it may be key-related.
    """
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise EncodeError(f"{name} must be bytes, got {type(value).__name__}")
    data = bytes(value)
    if not min_length <= len(data) <= max_length:
        raise EncodeError(f"{name} length must be in {min_length}..{max_length}, got {len(data)}")
    return data


def check_bool(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise EncodeError(f"{name} must be a bool, got {type(value).__name__}")
    return value
