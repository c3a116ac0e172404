"""rkmpd instances in guest namespaces, driven through rkmpctl.

Each instance has its own directory under the scenario's work directory
(rkmpd.toml, key table, control socket, hooks.d, sink status). Until the
real `rkmpd --config` builds routing-daemon sinks from `[sinks.*]`, an
instance with sinks runs the integration harness's stand-in
(`python -m integration.harness.routing rkmpd SPEC.json`: the real
`Service` with the sinks given in the spec); one without sinks runs the
same stand-in so that both sides of a scenario are alike.

The stand-in's "passive" instance answers but never initiates (no static
peer set-up, no netlink triggers): a scenario keeps one initiator per pair.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from integration.harness.netns import NetNs
from integration.harness.process import ManagedProcess, run, wait_until
from integration.vmlab.config import GUEST_SRC, GUEST_VENV
from integration.vmlab.guest.lab import Lab

RKMPCTL = f"{GUEST_VENV}/bin/rkmpctl"
# The lab's wheel is built from rkmp_frr/ alone, so the sink templates are
# not among its data files; the layer carries them here.
TEMPLATES_DIR = f"{GUEST_SRC}/templates"
START_TIMEOUT = 60.0  # Python start-up under TCG emulation takes seconds


def rkmpd_toml(
    *,
    identity: str,
    listen: Sequence[str],
    directory: Path,
    psk_file: Path,
    rkmp: Mapping[str, str],
    rollover: str = "",
    peers: str = "",
) -> str:
    """An rkmpd.toml; `rkmp` holds the `[rkmp]` keys as TOML values."""
    listen_list = ", ".join(f'"{entry}"' for entry in listen)
    rkmp_lines = "\n".join(f"{key} = {value}" for key, value in rkmp.items())
    return f"""\
[local]
id = "{identity}"
listen = [{listen_list}]
state_dir = "{directory / "state"}"
control_socket = "{directory / "ctl.sock"}"
hooks_dir = "{directory / "hooks.d"}"
hook_timeout = "5s"

[auth]
psk_file = "{psk_file}"

[rkmp]
{rkmp_lines}
{rollover}
{peers}
"""


def write_psk(path: Path, psk: str) -> Path:
    path.write_text(psk + "\n")
    path.chmod(0o600)
    return path


EVENT_HOOK = """\
#!/bin/sh
# Records every rkmpd event, one line each (never keys: hooks get none).
printf '%s peer=%s reason=%s keys_revoked=%s\\n' "$RKMP_EVENT" "${RKMP_PEER_NAME:-}" \\
    "${RKMP_REASON:-}" "${RKMP_KEYS_REVOKED:-}" >> "$0.events"
"""


@dataclass
class Rkmpd:
    """One rkmpd in namespace `ns`, with its files in `directory`."""

    name: str
    ns: NetNs
    directory: Path
    process: ManagedProcess | None = None

    @property
    def config_path(self) -> Path:
        return self.directory / "rkmpd.toml"

    @property
    def control_socket(self) -> Path:
        return self.directory / "ctl.sock"

    @property
    def hooks_dir(self) -> Path:
        return self.directory / "hooks.d"

    @property
    def sink_status(self) -> Path:
        return self.directory / "sinks.jsonl"

    @property
    def event_log(self) -> Path:
        """Where the hook from `install_event_hook` writes."""
        return self.hooks_dir / "50-record.events"

    def prepare(self) -> None:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.hooks_dir.mkdir(exist_ok=True)

    def install_event_hook(self) -> None:
        self.prepare()
        hook = self.hooks_dir / "50-record"
        hook.write_text(EVENT_HOOK)
        hook.chmod(0o755)

    def events(self) -> list[str]:
        """Lines the event hook wrote: "revoke peer=b reason=... keys_revoked=1"."""
        try:
            return self.event_log.read_text().splitlines()
        except FileNotFoundError:
            return []

    def start(
        self,
        lab: Lab,
        config: str,
        *,
        sinks: Mapping[str, Any] | None = None,
        passive: bool = False,
        timeout: float = START_TIMEOUT,
    ) -> None:
        """Start it (the harness stand-in, see the module doc) and wait until
        its control socket answers."""
        self.prepare()
        self.config_path.write_text(config)
        lab.attach(f"{self.name}.toml", self.config_path)
        spec = {
            "config": str(self.config_path),
            "status_file": str(self.sink_status),
            "passive": passive,
            **(sinks or {}),
        }
        spec_path = self.directory / "spec.json"
        spec_path.write_text(json.dumps(spec))
        argv = [sys.executable, "-m", "integration.harness.routing", "rkmpd", str(spec_path)]
        env = {"RKMP_TEMPLATES_DIR": TEMPLATES_DIR}
        self.process = lab.start(self.name, argv, netns=self.ns, env=env)
        lab.attach(f"{self.name}-sinks.jsonl", self.sink_status)
        process = self.process

        def ready() -> bool:
            process.check_alive()
            return self.control_socket.exists() and self.status() is not None

        wait_until(ready, timeout=timeout, interval=0.25, what=f"{self.name} to answer",
                   diagnostics=process.log_tail)  # fmt: skip

    def rkmpctl(self, *args: str, check: bool = True, timeout: float = 30.0) -> dict[str, Any]:
        """`rkmpctl --json ARGS` (the installed console script); its JSON."""
        argv = [RKMPCTL, "--socket", str(self.control_socket), "--json", *args]
        result = run(argv, check=check, timeout=timeout)
        answer: dict[str, Any] = json.loads(result.stdout) if result.stdout.strip() else {}
        return answer

    def status(self) -> dict[str, Any] | None:
        answer = self.rkmpctl("status", check=False)
        result: dict[str, Any] | None = answer.get("result") if answer.get("ok") else None
        return result

    def keys(self, protocol: str | None = None) -> list[dict[str, Any]]:
        """Key table rows (keys masked)."""
        args = ["keys"] + (["--protocol", protocol] if protocol else [])
        answer = self.rkmpctl(*args)
        return list(answer["result"]["rows"])

    def sink_results(self) -> list[dict[str, Any]]:
        """The stand-in's sink apply results, oldest first."""
        try:
            text = self.sink_status.read_text()
        except FileNotFoundError:
            return []
        return [json.loads(line) for line in text.splitlines() if line.strip()]

    def kill(self) -> None:
        """SIGKILL by its PID (a crash: no deletes sent, nothing cleaned up)."""
        if self.process is None:
            return
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.popen.wait(10)


def protocol_info(row: Mapping[str, Any]) -> dict[str, str]:
    """A key table row's ProtocolSpecificInfo ("send-id=3;recv-id=9;...")."""
    items: dict[str, str] = {}
    for part in str(row.get("protocol_specific_info", "")).split(";"):
        name, sep, value = part.partition("=")
        if sep:
            items[name] = value
    return items
