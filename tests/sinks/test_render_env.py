"""Template loading (operator directory first), filters, errors, masking."""

from __future__ import annotations

from datetime import UTC, timedelta, timezone
from pathlib import Path

import jinja2
import pytest

from rkmp_frr.keytable.row import Lifetimes
from rkmp_frr.keytable.utc import FOREVER
from rkmp_frr.sinks.features import Daemon, Version, frr_features
from rkmp_frr.sinks.frr_config import FrrBgpNeighbor, FrrRenderConfig
from rkmp_frr.sinks.frr_render import render_frr_change
from rkmp_frr.sinks.render import (
    TemplateRenderError,
    TemplatesNotFound,
    bird_time,
    candidate_template_dirs,
    next_change,
    packaged_templates_dir,
    render_template,
    template_environment,
)
from rkmp_frr.sinks.secrets import mask_key
from rkmp_frr.wire.constants import ProtocolId

from .sink_rows import PEER, T0, make_row, since

CONFIG = FrrRenderConfig(bgp_neighbors=(FrrBgpNeighbor(PEER, 65001),))
FRR = frr_features(Version(8, 4, 4))
ROW = make_row(ProtocolId.TCP_MD5, 1, since(T0))


def test_packaged_templates_are_found_in_the_checkout() -> None:
    found = packaged_templates_dir()
    assert (found / "frr" / "bgpd.j2").is_file()
    assert (found / "bird" / "rkmp.conf.j2").is_file()
    assert found in candidate_template_dirs()


def test_the_environment_variable_comes_first(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("RKMP_TEMPLATES_DIR", str(tmp_path))
    assert candidate_template_dirs()[0] == tmp_path


def test_a_packaged_dir_without_the_layout_is_refused(tmp_path: Path) -> None:
    env = template_environment(packaged_dir=tmp_path)
    with pytest.raises(TemplateRenderError, match=r"frr/bgpd.j2: not found"):
        render_template(env, "frr/bgpd.j2", {})
    assert issubclass(TemplatesNotFound, TemplateRenderError)


def test_operator_template_overrides_the_packaged_one(tmp_path: Path) -> None:
    (tmp_path / "frr").mkdir()
    (tmp_path / "frr" / "bgpd.j2").write_text(
        "{% for r in routers %}router bgp {{ r.asn }}\n"
        "{% for n in r.set %}neighbor {{ n.neighbor }} password {{ n.key }}\n"
        "neighbor {{ n.neighbor }} description rkmp-managed\n{% endfor %}exit\n{% endfor %}"
    )
    change = render_frr_change([], [ROW], CONFIG, FRR, T0, env=template_environment(tmp_path))
    assert change.commands[Daemon.BGPD] == (
        "router bgp 65001",
        f"neighbor {PEER} password {ROW.key}",
        f"neighbor {PEER} description rkmp-managed",
        "exit",
    )


def test_packaged_templates_stay_reachable_for_operator_templates(tmp_path: Path) -> None:
    (tmp_path / "frr").mkdir()
    (tmp_path / "frr" / "bgpd.j2").write_text(
        '! operator header\n{% include "packaged/frr/bgpd.j2" %}'
    )
    default = render_frr_change([], [ROW], CONFIG, FRR, T0)
    wrapped = render_frr_change([], [ROW], CONFIG, FRR, T0, env=template_environment(tmp_path))
    assert wrapped.commands == default.commands  # "!" lines are comments, not commands
    assert wrapped.masked_text().startswith("! bgpd\n! operator header\nrouter bgp 65001")


def test_missing_override_dir_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(TemplateRenderError, match="not found"):
        template_environment(tmp_path / "nope")


def test_undefined_variables_are_errors_not_empty_strings() -> None:
    env = template_environment()
    env.loader = jinja2.DictLoader({"t.j2": "router bgp {{ asn }}"})
    with pytest.raises(TemplateRenderError, match=r"t.j2: UndefinedError: 'asn' is undefined"):
        render_template(env, "t.j2", {})


def test_syntax_errors_name_template_and_line() -> None:
    env = template_environment()
    env.loader = jinja2.DictLoader({"t.j2": "ok\n{% if %}"})
    with pytest.raises(TemplateRenderError, match=r"template t.j2:2: syntax error"):
        render_template(env, "t.j2", {})


def test_errors_from_templates_never_carry_keys(tmp_path: Path) -> None:
    (tmp_path / "frr").mkdir()
    # An element lookup by the key: jinja2 quotes the key in its message.
    (tmp_path / "frr" / "bgpd.j2").write_text(
        "{% for r in routers %}{% for n in r.set %}{{ {}[n.key] }}{% endfor %}{% endfor %}"
    )
    with pytest.raises(TemplateRenderError) as caught:
        render_frr_change([], [ROW], CONFIG, FRR, T0, env=template_environment(tmp_path))
    message = str(caught.value)
    assert ROW.key not in message
    assert mask_key(ROW.key) in message
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_no_autoescaping() -> None:
    env = template_environment()
    env.loader = jinja2.DictLoader({"t.j2": "{{ text }}"})
    assert render_template(env, "t.j2", {"text": 'a "<b>" & c'}) == 'a "<b>" & c'


def test_filters() -> None:
    env = template_environment()
    env.loader = jinja2.DictLoader({"t.j2": "{{ n | hex(4) }} {{ t | utc }} {{ t | bird_time }}"})
    west = timezone(timedelta(hours=-5))
    out = render_template(env, "t.j2", {"n": 258, "t": T0, "timezone": west})
    assert out == "0102 20250615150640Z 2025-06-15 10:06:40"
    with pytest.raises(TemplateRenderError, match="no 'timezone'"):
        render_template(env, "t.j2", {"n": 1, "t": T0})


def test_bird_time() -> None:
    assert bird_time(0, UTC) == "1970-01-01 00:00:00"
    assert bird_time(FOREVER, UTC) == "9999-12-31 23:59:59"
    assert bird_time(T0, timezone(timedelta(hours=2))) == "2025-06-15 17:06:40"


def test_next_change_is_the_next_lifetime_boundary() -> None:
    old = ROW.with_lifetimes(Lifetimes(T0, T0 + 180, T0, T0 + 480))
    assert next_change([old], T0) == T0 + 181  # the send end is closed
    assert next_change([old], T0 + 181) == T0 + 481
    assert next_change([old], T0 + 481) is None
    assert next_change([ROW], T0) is None  # only FOREVER left
