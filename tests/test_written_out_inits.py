"""Dataclasses of the core whose ``__init__`` is written out (compiled by
mypyc it is a native constructor, see rkmp_frr/build.py) must take exactly
their fields, in order, with the same annotations and defaults, and set
each field from its own parameter: what ``dataclass`` would generate."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from rkmp_frr.build import ROOT, compiled_sources


def _default(value: ast.expr | None) -> str | None:
    if isinstance(value, ast.Call) and getattr(value.func, "id", "") == "field":
        found = [kw.value for kw in value.keywords if kw.arg == "default"]
        return ast.unparse(found[0]) if found else None
    return None if value is None else ast.unparse(value)


def _written_out() -> list[tuple[str, ast.ClassDef, ast.FunctionDef]]:
    found = []
    for name in compiled_sources():
        for node in ast.walk(ast.parse(Path(ROOT, name).read_text())):
            if not isinstance(node, ast.ClassDef):
                continue
            dataclass = any("dataclass" in ast.unparse(d) for d in node.decorator_list)
            inits = [
                f for f in node.body if isinstance(f, ast.FunctionDef) and f.name == "__init__"
            ]
            if dataclass and inits:
                found.append((name, node, inits[0]))
    return found


WRITTEN_OUT = _written_out()


def test_the_hot_classes_are_written_out() -> None:
    names = {node.name for _, node, _ in WRITTEN_OUT}
    assert {"Header", "KePayload", "ChildParams", "RkmpKeys", "Message"} <= names


@pytest.mark.parametrize(
    ("source", "cls", "init"), WRITTEN_OUT, ids=[node.name for _, node, _ in WRITTEN_OUT]
)
def test_written_out_init_is_the_generated_one(
    source: str, cls: ast.ClassDef, init: ast.FunctionDef
) -> None:
    fields = [
        item
        for item in cls.body
        if isinstance(item, ast.AnnAssign)
        and isinstance(item.target, ast.Name)
        and "ClassVar" not in ast.unparse(item.annotation)
    ]
    expected = [
        (f.target.id, ast.unparse(f.annotation), _default(f.value))  # type: ignore[union-attr]
        for f in fields
    ]
    args = init.args
    assert not args.kwonlyargs and args.vararg is None and args.kwarg is None
    params = args.args[1:]  # after self
    defaults: list[str | None] = [None] * (len(params) - len(args.defaults))
    defaults += [ast.unparse(d) for d in args.defaults]
    got = [
        (p.arg, ast.unparse(p.annotation) if p.annotation else "", d)
        for p, d in zip(params, defaults, strict=True)
    ]
    assert got == expected, f"{source}: {cls.name}.__init__ differs from its fields"
    sets = [ast.unparse(statement) for statement in init.body]
    assert sets == [f"object.__setattr__(self, '{n}', {n})" for n, _, _ in expected]
