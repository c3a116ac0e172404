"""Objects built by hand with values of the wrong type.

Pure Python accepts them and the encoder must refuse them (EncodeError) or
``__post_init__`` must (ValueError). A build compiled by mypyc checks the
declared types in the constructor and raises TypeError there instead;
``build`` returns None in that case only, so the pure-Python run keeps the
strict check.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from rkmp_frr.build import is_compiled

T = TypeVar("T")


def build(factory: Callable[[], T]) -> T | None:
    try:
        return factory()
    except TypeError:
        if not is_compiled():
            raise
        return None
