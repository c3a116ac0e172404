"""rkmpd instances in guest namespaces, driven through rkmpctl.

Each instance is the installed `rkmpd --config rkmpd.toml` (the console
script of the project's wheel), with its own directory under the
scenario's work directory: rkmpd.toml, key table, control socket, hooks.d.
Its routing-daemon sinks come from the `[sinks.*]` tables of that file.
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from integration.harness.netns import NetNs
from integration.harness.process import ManagedProcess, run, wait_until
from integration.vmlab.config import GUEST_SRC, GUEST_VENV
from integration.vmlab.guest.lab import Lab

RKMPD = f"{GUEST_VENV}/bin/rkmpd"
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
    sinks: str = "",
) -> str:
    """An rkmpd.toml; `rkmp` holds the `[rkmp]` keys as TOML values,
    `rollover`, `peers` and `sinks` are TOML text."""
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
{sinks}
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

    def start(self, lab: Lab, config: str, *, timeout: float = START_TIMEOUT) -> None:
        """Start `rkmpd --config` with `config` and wait until its control
        socket answers."""
        self.prepare()
        self.config_path.write_text(config)
        lab.attach(f"{self.name}.toml", self.config_path)
        argv = [RKMPD, "--config", str(self.config_path)]
        env = {"RKMP_TEMPLATES_DIR": TEMPLATES_DIR}
        self.process = lab.start(self.name, argv, netns=self.ns, env=env)
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

    def children(self, protocol: str) -> dict[str, int]:
        """Child SAs of `protocol` in established RKMP SAs, counted per peer
        name (`rkmpctl sas`)."""
        counts: dict[str, int] = {}
        for sa in self.rkmpctl("sas")["result"]["sas"]:
            if sa["state"] != "established":
                continue
            found = [c for c in sa["children"] if c["protocol"] == protocol]
            if found:
                counts[sa["peer"]] = counts.get(sa["peer"], 0) + len(found)
        return counts

    def sinks(self) -> list[dict[str, Any]]:
        """`rkmpctl status`'s sinks: daemon, version, applies, failures, last_error..."""
        status = self.status() or {}
        return list(status.get("sinks", []))

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
