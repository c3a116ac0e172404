"""Constructors for frozen slotted dataclasses that skip ``__init__``.

The decoder builds many small immutable objects from values it has already
checked. A frozen dataclass's ``__init__`` sets each field through
``object.__setattr__`` by name; setting the slots through their descriptors
gives the same object (equal, same hash, same repr) in about half the time.
Only for classes without ``__post_init__`` and only with values of the
declared types: nothing is checked here.

``cls.__new__`` rather than ``object.__new__``: the same function for a
plain class, and the only allocator CPython accepts for a class compiled by
mypyc (it allocates without running ``__init__`` either way).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

_T = TypeVar("_T")


def slot_setter(cls: type[Any], name: str) -> Callable[[Any, Any], None]:
    descriptor = cls.__dict__[name]  # a member descriptor: the class must use slots
    setter: Callable[[Any, Any], None] = descriptor.__set__
    return setter


def maker1(cls: type[_T], a: str) -> Callable[[Any], _T]:
    sa = slot_setter(cls, a)
    new = cls.__new__

    def make(va: Any) -> _T:
        obj: _T = new(cls)
        sa(obj, va)
        return obj

    return make


def maker2(cls: type[_T], a: str, b: str) -> Callable[[Any, Any], _T]:
    sa, sb = slot_setter(cls, a), slot_setter(cls, b)
    new = cls.__new__

    def make(va: Any, vb: Any) -> _T:
        obj: _T = new(cls)
        sa(obj, va)
        sb(obj, vb)
        return obj

    return make


def maker3(cls: type[_T], a: str, b: str, c: str) -> Callable[[Any, Any, Any], _T]:
    sa, sb, sc = (slot_setter(cls, name) for name in (a, b, c))
    new = cls.__new__

    def make(va: Any, vb: Any, vc: Any) -> _T:
        obj: _T = new(cls)
        sa(obj, va)
        sb(obj, vb)
        sc(obj, vc)
        return obj

    return make


def maker4(cls: type[_T], a: str, b: str, c: str, d: str) -> Callable[[Any, Any, Any, Any], _T]:
    sa, sb, sc, sd = (slot_setter(cls, name) for name in (a, b, c, d))
    new = cls.__new__

    def make(va: Any, vb: Any, vc: Any, vd: Any) -> _T:
        obj: _T = new(cls)
        sa(obj, va)
        sb(obj, vb)
        sc(obj, vc)
        sd(obj, vd)
        return obj

    return make


def maker5(
    cls: type[_T], a: str, b: str, c: str, d: str, e: str
) -> Callable[[Any, Any, Any, Any, Any], _T]:
    sa, sb, sc, sd, se = (slot_setter(cls, name) for name in (a, b, c, d, e))
    new = cls.__new__

    def make(va: Any, vb: Any, vc: Any, vd: Any, ve: Any) -> _T:
        obj: _T = new(cls)
        sa(obj, va)
        sb(obj, vb)
        sc(obj, vc)
        sd(obj, vd)
        se(obj, ve)
        return obj

    return make
