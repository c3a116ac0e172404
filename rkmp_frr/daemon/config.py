"""The daemon's configuration: ``load_config(path) -> DaemonConfig`` and the
``--check-config`` entry point.

The model is in ``config_model``, the loader in ``config_load``; this
module is what the daemon, ``rkmpctl`` and scripts import.

``python -m rkmp_frr.daemon.config [--config PATH]`` checks a file: exit 0
and a summary if it is valid (warnings on stderr), exit 2 and one line
``<file>: <key>: <problem>`` on stderr if not.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import TextIO

from rkmp_frr.daemon.config_load import ConfigError, load_config, parse_config
from rkmp_frr.daemon.config_model import (
    DEFAULT_CONFIG_FILE,
    AuthSection,
    BirdSink,
    CertAuth,
    ConfigWarning,
    DaemonConfig,
    Endpoint,
    FrrMode,
    FrrSink,
    KernelSink,
    LocalSection,
    PeerConfig,
    ProtocolConfig,
    PskAuth,
    RkmpSection,
    SinksSection,
)
from rkmp_frr.daemon.names import protocol_name

EXIT_OK = 0
EXIT_CONFIG_ERROR = 2  # the same code rkmpctl uses for usage/config errors


def check_config(
    path: str | os.PathLike[str],
    *,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """Load ``path``; print a one-line summary (stdout) and any warnings
    (stderr) and return 0, or print the error line (stderr) and return 2."""
    out = stdout if stdout is not None else sys.stdout
    err = stderr if stderr is not None else sys.stderr
    try:
        config = load_config(path)
    except ConfigError as exc:
        print(exc, file=err)
        return EXIT_CONFIG_ERROR
    for warning in config.warnings:
        print(f"warning: {warning}", file=err)
    print(summary(config), file=out)
    return EXIT_OK


def summary(config: DaemonConfig) -> str:
    protocols = sorted({protocol_name(p.protocol) for peer in config.peers for p in peer.protocols})
    auth = "psk" if isinstance(config.auth, PskAuth) else "certificate"
    return (
        f"{config.file}: OK: identity {config.local.identity}, {auth} auth, "
        f"{len(config.peers)} peer(s), protocols: {', '.join(protocols) or 'none'}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m rkmp_frr.daemon.config", description="Check an rkmpd configuration file."
    )
    parser.add_argument("--config", default=str(DEFAULT_CONFIG_FILE), help="%(default)s")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 on --help
        return int(exc.code or 0)
    return check_config(args.config)


__all__ = [
    "DEFAULT_CONFIG_FILE",
    "EXIT_CONFIG_ERROR",
    "AuthSection",
    "BirdSink",
    "CertAuth",
    "ConfigError",
    "ConfigWarning",
    "DaemonConfig",
    "Endpoint",
    "FrrMode",
    "FrrSink",
    "KernelSink",
    "LocalSection",
    "PeerConfig",
    "ProtocolConfig",
    "PskAuth",
    "RkmpSection",
    "SinksSection",
    "check_config",
    "load_config",
    "main",
    "parse_config",
    "summary",
]

if __name__ == "__main__":
    sys.exit(main())
