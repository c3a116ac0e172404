"""Command line of the VM lab (run as root from the project root).

    .venv/bin/python -m integration.vmlab run [SCENARIO ...] [--json] [--dir DIR]
    .venv/bin/python -m integration.vmlab build      # base image + layer only
    .venv/bin/python -m integration.vmlab list       # scenarios
    .venv/bin/python -m integration.vmlab info       # cache contents

Exit status: 0 all scenarios passed, 1 a check failed, 2 the lab broke,
3 the lab cannot run on this machine (the reason is printed).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from integration.vmlab.base import MANIFEST, ensure_base
from integration.vmlab.cache import LabCache
from integration.vmlab.errors import LabError, LabUnavailable
from integration.vmlab.labrun import (
    DEFAULT_SCENARIO_TIMEOUT,
    PROJECT_ROOT,
    run_lab,
    scenario_names,
    stderr_progress,
    unavailable_reason,
)
from integration.vmlab.layer import ensure_layer


def _run(args: argparse.Namespace) -> int:
    scenarios = args.scenarios or ["smoke"]
    run_dir = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="rkmp-vmlab-run-"))
    started = time.monotonic()
    run = run_lab(scenarios, run_dir=run_dir, default_timeout=args.timeout)
    total = time.monotonic() - started
    if args.json:
        scenario_reports = [r.to_json() for r in run.scenarios]
        for report in scenario_reports:
            report.pop("logs")  # written to run_dir instead
        document = {
            "scenarios": scenario_reports,
            "guest": dict(run.guest_facts),
            "accel": run.accel.value,
            "base_key": run.base_key,
            "base_built": run.base_built,
            "layer_key": run.layer_key,
            "timings": {**run.timings, "total": total},
            "run_dir": str(run.run_dir),
        }
        json.dump(document, sys.stdout, indent=1, sort_keys=True)
        print()
    else:
        for result in run.scenarios:
            print(result.summary())
        timings = ", ".join(f"{k} {v:.1f} s" for k, v in run.timings.items())
        print(
            f"accel {run.accel.value}; {timings}; total {total:.1f} s; "
            f"base {'built' if run.base_built else 'cached'}; logs in {run.run_dir}"
        )
    passed = len(run.scenarios) == len(scenarios) and all(r.passed for r in run.scenarios)
    return 0 if passed else 1


def _build(args: argparse.Namespace) -> int:
    del args
    cache = LabCache()
    started = time.monotonic()
    base, built = ensure_base(cache, PROJECT_ROOT, stderr_progress)
    layer = ensure_layer(cache, base, PROJECT_ROOT, stderr_progress)
    print(
        f"base {base.key} ({'built' if built else 'cached'}), layer {layer.key}, "
        f"{time.monotonic() - started:.1f} s"
    )
    return 0


def _info(args: argparse.Namespace) -> int:
    del args
    cache = LabCache()
    print(f"cache {cache.root}")
    for directory in sorted(cache.bases.glob("*")) if cache.bases.is_dir() else []:
        manifest = json.loads((directory / MANIFEST).read_text())
        print(
            f"  base {directory.name}: kernel {manifest.get('kernel_release')}, "
            f"Python {manifest.get('python')}, {manifest.get('initrd_octets', 0) >> 20} MiB, "
            f"built {manifest.get('built')} in {manifest.get('build_seconds')} s"
        )
    for layer in sorted(cache.layers.glob("*.cpio")) if cache.layers.is_dir() else []:
        print(f"  layer {layer.stem}: {layer.stat().st_size >> 10} KiB")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m integration.vmlab",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="build or reuse the image, boot, run scenarios")
    run.add_argument("scenarios", nargs="*", help=f"default smoke; have {scenario_names()}")
    run.add_argument("--json", action="store_true", help="results as JSON on stdout")
    run.add_argument("--dir", help="run directory (console log, scenario logs)")
    run.add_argument(
        "--timeout", type=float, default=DEFAULT_SCENARIO_TIMEOUT, help="seconds per scenario"
    )
    run.set_defaults(handler=_run)
    commands.add_parser("build", help="build or reuse the base image and layer").set_defaults(
        handler=_build
    )
    commands.add_parser("info", help="what the cache holds").set_defaults(handler=_info)
    commands.add_parser("list", help="scenario names").set_defaults(
        handler=lambda _: print("\n".join(scenario_names())) or 0
    )
    args = parser.parse_args(argv)
    if args.command in ("run", "build"):
        reason = unavailable_reason()
        if reason is not None:
            print(f"vmlab: cannot run here: {reason}", file=sys.stderr)
            return 3
    try:
        return int(args.handler(args))
    except LabUnavailable as exc:
        print(f"vmlab: cannot run here: {exc}", file=sys.stderr)
        return 3
    except LabError as exc:
        print(f"vmlab: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
