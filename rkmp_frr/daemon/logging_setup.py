"""rkmpd's log: stderr, one event per line (journald and log collectors
split on newlines), never key material.

Nothing the daemon logs carries keys: events and rows mask them in their
reprs and the daemon formats its own lines. As a second line of defence the
formatter turns any newline (a traceback, a multi-line exception text) into
``\\n`` so one event stays one line.
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO

LOGGER_NAME = "rkmp_frr"
_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class OneLineFormatter(logging.Formatter):
    """Formats a record, traceback included, as a single line."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        return text.replace("\r", "\\r").replace("\n", "\\n")

    def formatException(self, ei: object) -> str:
        return super().formatException(ei).strip()  # type: ignore[arg-type]


def setup_logging(level: int = logging.INFO, stream: TextIO | None = None) -> logging.Handler:
    """Send the project's logs (``rkmp_frr.*``) to ``stream`` (stderr) as
    single lines; returns the handler (tests remove it again)."""
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(OneLineFormatter(_FORMAT))
    logger = logging.getLogger(LOGGER_NAME)
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False
    return handler


def remove_logging(handler: logging.Handler) -> None:
    logging.getLogger(LOGGER_NAME).removeHandler(handler)
    handler.close()
