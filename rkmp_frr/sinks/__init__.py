"""Routing-daemon sinks: key table rows rendered as FRR and BIRD
configuration (pure renderers and a version/feature model; the appliers
that run vtysh and birdc build on them).

- :mod:`rkmp_frr.sinks.frr_config`: the FRR sink's configuration.
- :mod:`rkmp_frr.sinks.frr_plan`: rows -> the FRR configuration the sink
  owns (a plan).
- :mod:`rkmp_frr.sinks.frr_render`: two plans -> the vtysh commands per
  daemon between them, and what ``show running-config`` must then show.
- :mod:`rkmp_frr.sinks.frr_running_config`: those expectations, the
  running config parsed, drift.
- :mod:`rkmp_frr.sinks.frr_lifetime`: key chain lifetimes as FRR writes
  them.
- :mod:`rkmp_frr.sinks.bird_render`: rows -> the whole BIRD include file.
- :mod:`rkmp_frr.sinks.features`: what each FRR/BIRD version can do, and
  version-string parsers.
- :mod:`rkmp_frr.sinks.render`: templates (operator directory first),
  filters, errors.
- :mod:`rkmp_frr.sinks.secrets`: how text that may hold keys is shown
  (rkmpd's keys fingerprinted, anyone's passwords hidden).
"""

from __future__ import annotations

from rkmp_frr.sinks.bird_render import (
    BirdBgpSession,
    BirdConfig,
    BirdOspfArea,
    BirdOspfInstance,
    BirdOspfInterface,
    BirdRenderConfig,
    render_bird,
)
from rkmp_frr.sinks.features import (
    BirdFeatures,
    Daemon,
    FrrFeatures,
    Requirement,
    Version,
    VersionParseError,
    bird_features,
    frr_features,
    parse_bird_version,
    parse_frr_version,
)
from rkmp_frr.sinks.frr_config import FrrBgpNeighbor, FrrRenderConfig
from rkmp_frr.sinks.frr_plan import EMPTY_PLAN, FrrPlan, frr_plan
from rkmp_frr.sinks.frr_render import FrrChange, frr_change, render_frr_change
from rkmp_frr.sinks.frr_running_config import ConfigExpectation, unmet_expectations
from rkmp_frr.sinks.render import (
    MissingSinkConfig,
    SinkError,
    TemplateRenderError,
    TemplatesNotFound,
    UnrenderableRow,
    UnsupportedFeature,
    template_environment,
)
from rkmp_frr.sinks.secrets import mask_key, mask_secrets

__all__ = [
    "EMPTY_PLAN",
    "BirdBgpSession",
    "BirdConfig",
    "BirdFeatures",
    "BirdOspfArea",
    "BirdOspfInstance",
    "BirdOspfInterface",
    "BirdRenderConfig",
    "ConfigExpectation",
    "Daemon",
    "FrrBgpNeighbor",
    "FrrChange",
    "FrrFeatures",
    "FrrPlan",
    "FrrRenderConfig",
    "MissingSinkConfig",
    "Requirement",
    "SinkError",
    "TemplateRenderError",
    "TemplatesNotFound",
    "UnrenderableRow",
    "UnsupportedFeature",
    "Version",
    "VersionParseError",
    "bird_features",
    "frr_change",
    "frr_features",
    "frr_plan",
    "mask_key",
    "mask_secrets",
    "parse_bird_version",
    "parse_frr_version",
    "render_bird",
    "render_frr_change",
    "template_environment",
    "unmet_expectations",
]
