"""What a guest scenario reports, and how it crosses the serial line.

Shared by the guest runner (Python 3.13, stdlib only) and the host (3.11),
so it imports nothing but the standard library.

The guest writes its reports to its second serial port (ttyS1), which QEMU
copies into a host file; the kernel console (ttyS0) carries only boot and
log text, so a kernel message can never land inside a report. Each report
is one frame:

    @@RKMP-VMLAB-FRAME <length> <sha256 hex>
    <length octets of UTF-8 JSON>
    @@RKMP-VMLAB-END

A frame that is cut short (the guest died or was killed) or whose digest
does not match is dropped by `decode_frames`, so a partial report is never
taken for a result.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

FRAME_START = b"@@RKMP-VMLAB-FRAME"
FRAME_END = b"@@RKMP-VMLAB-END"
_HEADER = re.compile(rb"@@RKMP-VMLAB-FRAME (\d+) ([0-9a-f]{64})\r?\n")

# Lines on the console (ttyS0) that bracket the human-readable summary.
CONSOLE_BEGIN = "=== RKMP-VMLAB BEGIN ==="
CONSOLE_END = "=== RKMP-VMLAB END ==="

# Frame kinds (the "kind" member of every frame's JSON object).
KIND_SCENARIO = "scenario"
KIND_DONE = "done"

JsonObject = dict[str, Any]


def encode_frame(document: Mapping[str, Any]) -> bytes:
    """One frame holding `document` as JSON."""
    body = json.dumps(document, sort_keys=True, ensure_ascii=False).encode()
    digest = hashlib.sha256(body).hexdigest()
    return b"%s %d %s\n%s\n%s\n" % (FRAME_START, len(body), digest.encode(), body, FRAME_END)


def decode_frames(data: bytes) -> Iterator[JsonObject]:
    """Every complete, intact frame in `data`, in order."""
    position = 0
    while True:
        start = data.find(FRAME_START, position)
        if start < 0:
            return
        header = _HEADER.match(data, start)
        if header is None:
            position = start + len(FRAME_START)
            continue
        length, digest = int(header.group(1)), header.group(2).decode()
        body = data[header.end() : header.end() + length]
        position = header.end()
        if len(body) != length or hashlib.sha256(body).hexdigest() != digest:
            continue
        document = json.loads(body)
        if isinstance(document, dict):
            position = header.end() + length
            yield document


@dataclass(frozen=True)
class CheckResult:
    """One named check of a scenario: passed, or why not."""

    name: str
    passed: bool
    seconds: float
    detail: Mapping[str, Any] = field(default_factory=dict)
    error: str | None = None

    def to_json(self) -> JsonObject:
        return {
            "name": self.name,
            "passed": self.passed,
            "seconds": round(self.seconds, 3),
            "detail": dict(self.detail),
            "error": self.error,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CheckResult:
        return cls(
            name=str(data["name"]),
            passed=bool(data["passed"]),
            seconds=float(data["seconds"]),
            detail=dict(data.get("detail") or {}),
            error=data.get("error"),
        )


@dataclass(frozen=True)
class ScenarioResult:
    """Everything one scenario reported: checks in order, facts, logs.

    `error` is set when the scenario itself could not run to its end
    (import failure, timeout, an exception outside any check).
    """

    name: str
    checks: tuple[CheckResult, ...]
    seconds: float
    facts: Mapping[str, Any] = field(default_factory=dict)
    logs: Mapping[str, str] = field(default_factory=dict, repr=False)
    error: str | None = None

    @property
    def passed(self) -> bool:
        return self.error is None and bool(self.checks) and all(c.passed for c in self.checks)

    def check(self, name: str) -> CheckResult:
        """The check called `name` (KeyError naming the ones there are)."""
        for result in self.checks:
            if result.name == name:
                return result
        raise KeyError(
            f"no check {name!r} in scenario {self.name!r}: {[c.name for c in self.checks]}"
        )

    def summary(self) -> str:
        """One line per check, for logs and assertion messages."""
        lines = [
            f"scenario {self.name}: {'PASSED' if self.passed else 'FAILED'} ({self.seconds:.1f} s)"
        ]
        if self.error:
            lines.append(f"  error: {self.error}")
        for check in self.checks:
            state = "ok  " if check.passed else "FAIL"
            extra = f": {check.error}" if check.error else ""
            lines.append(f"  {state} {check.name} ({check.seconds:.1f} s){extra}")
        return "\n".join(lines)

    def to_json(self) -> JsonObject:
        return {
            "kind": KIND_SCENARIO,
            "name": self.name,
            "checks": [c.to_json() for c in self.checks],
            "seconds": round(self.seconds, 3),
            "facts": dict(self.facts),
            "logs": dict(self.logs),
            "error": self.error,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ScenarioResult:
        return cls(
            name=str(data["name"]),
            checks=tuple(CheckResult.from_json(c) for c in data.get("checks") or ()),
            seconds=float(data["seconds"]),
            facts=dict(data.get("facts") or {}),
            logs={str(k): str(v) for k, v in (data.get("logs") or {}).items()},
            error=data.get("error"),
        )
