"""strongSwan charon as an independent IKEv2 peer inside a namespace.

Each charon gets a private strongswan.conf (STRONGSWAN_CONF), its own vici
socket, a file log with `ike = 4` (which prints the DH secret, SKEYSEED and
every SK_* key), and a private /run (charon's PID file path is compiled in:
/var/run/charon.pid), so several charons run side by side, including those
of other test runs. Connections are loaded with swanctl over the private
vici socket.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from integration.harness.netns import NetNs
from integration.harness.process import (
    HarnessError,
    ManagedProcess,
    run,
    start_process,
    wait_until,
)
from rkmp_frr.crypto import RkmpKeys

START_TIMEOUT = 15.0
ESTABLISH_TIMEOUT = 15.0

# Plugins for PSK IKEv2 with AES-CBC/GCM, HMAC-SHA2, ECP and X25519 groups
# (X25519 and ECP via openssl; curve25519 where built). Filtered by what is
# installed so a missing optional one does not stop charon.
CHARON_PLUGINS = (
    "random", "nonce", "aes", "sha1", "sha2", "hmac", "gcm", "openssl", "curve25519",
    "kdf", "kernel-netlink", "socket-default", "vici",
)  # fmt: skip
SWANCTL_PLUGINS = ("random", "openssl", "pem", "pkcs1", "x509", "pubkey")
# swanctl --load-creds scans these below the config dir and complains if absent.
SWANCTL_CREDENTIAL_DIRS = (
    "x509", "x509ca", "x509ocsp", "x509aa", "x509ac", "x509crl", "pubkey",
    "private", "rsa", "ecdsa", "bliss", "pkcs8", "pkcs12",
)  # fmt: skip


class Childless(StrEnum):
    """swanctl.conf `childless` (RFC 6023 support)."""

    ALLOW = "allow"
    PREFER = "prefer"
    FORCE = "force"
    NEVER = "never"


@dataclass(frozen=True)
class IkeConnection:
    """One swanctl connection (PSK, IKEv2, no CHILD_SA, no MOBIKE)."""

    name: str
    local_addr: str
    remote_addr: str
    local_id: str
    remote_id: str
    proposals: str
    psk: bytes = field(repr=False)
    childless: Childless = Childless.ALLOW
    # Seconds; 0 keeps charon from starting rekeying/DPD during a test.
    rekey_time: int = 0
    dpd_delay: int = 0


def _plugins_available(plugin_dir: Path, names: Sequence[str]) -> list[str]:
    return [n for n in names if (plugin_dir / f"libstrongswan-{n}.so").exists()]


def render_strongswan_conf(
    *, log_path: Path, vici_socket: Path, charon_plugins: Sequence[str],
    swanctl_plugins: Sequence[str],
) -> str:  # fmt: skip
    """A self-contained strongswan.conf (no includes of /etc)."""
    return f"""\
# Written by the rkmp-frr integration harness.
charon {{
  load_modular = no
  load = {" ".join(charon_plugins)}
  install_routes = no
  install_virtual_ip = no
  port = 500
  port_nat_t = 4500
  # Never answer with COOKIEs or drop half-open SAs in tests (DESIGN.md §4).
  cookie_threshold = 100000
  block_threshold = 100000
  init_limit_half_open = 0
  filelog {{
    ike {{
      path = {log_path}
      time_format = %s
      flush_line = yes
      append = no
      default = 1
      ike = 4
    }}
  }}
  plugins {{
    vici {{
      socket = unix://{vici_socket}
    }}
  }}
}}
swanctl {{
  load = {" ".join(swanctl_plugins)}
}}
"""


def render_swanctl_conf(conn: IkeConnection) -> str:
    return f"""\
# Written by the rkmp-frr integration harness.
connections {{
  {conn.name} {{
    version = 2
    local_addrs = {conn.local_addr}
    remote_addrs = {conn.remote_addr}
    proposals = {conn.proposals}
    childless = {conn.childless}
    mobike = no
    fragmentation = yes
    rekey_time = {conn.rekey_time}
    dpd_delay = {conn.dpd_delay}
    local {{
      auth = psk
      id = {conn.local_id}
    }}
    remote {{
      auth = psk
      id = {conn.remote_id}
    }}
  }}
}}
secrets {{
  ike-{conn.name} {{
    id-local = {conn.local_id}
    id-remote = {conn.remote_id}
    secret = 0x{conn.psk.hex()}
  }}
}}
"""


@dataclass(frozen=True, slots=True)
class IkeSaStatus:
    """One line of `swanctl --list-sas` for an IKE SA."""

    name: str
    unique_id: int
    state: str
    spi_i: bytes
    spi_r: bytes


_LIST_SAS_RE = re.compile(
    r"^(?P<name>\S+): #(?P<uid>\d+), (?P<state>[A-Z_]+), IKEv2, "
    r"(?P<spi_i>[0-9a-f]{16})_i\*? (?P<spi_r>[0-9a-f]{16})_r",
    re.MULTILINE,
)


def parse_list_sas(text: str) -> list[IkeSaStatus]:
    return [
        IkeSaStatus(
            name=m["name"],
            unique_id=int(m["uid"]),
            state=m["state"],
            spi_i=bytes.fromhex(m["spi_i"]),
            spi_r=bytes.fromhex(m["spi_r"]),
        )
        for m in _LIST_SAS_RE.finditer(text)
    ]


@dataclass
class Charon:
    """A charon daemon in `ns`, with all its files under `work_dir`."""

    ns: NetNs
    work_dir: Path
    charon_binary: Path
    process: ManagedProcess | None = None

    @property
    def conf_path(self) -> Path:
        return self.work_dir / "strongswan.conf"

    @property
    def swanctl_dir(self) -> Path:
        return self.work_dir / "swanctl"

    @property
    def log_path(self) -> Path:
        return self.work_dir / "charon.log"

    @property
    def vici_socket(self) -> Path:
        return self.work_dir / "charon.vici"

    @property
    def uri(self) -> str:
        return f"unix://{self.vici_socket}"

    def _env(self) -> dict[str, str]:
        return {"STRONGSWAN_CONF": str(self.conf_path)}

    def start(self, timeout: float = START_TIMEOUT) -> None:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        run_dir = self.work_dir / "run"
        run_dir.mkdir(exist_ok=True)
        plugin_dir = self.charon_binary.parent / "plugins"
        self.conf_path.write_text(
            render_strongswan_conf(
                log_path=self.log_path,
                vici_socket=self.vici_socket,
                charon_plugins=_plugins_available(plugin_dir, CHARON_PLUGINS),
                swanctl_plugins=_plugins_available(plugin_dir, SWANCTL_PLUGINS),
            )
        )
        self.process = start_process(
            f"charon[{self.ns.name}]",
            [str(self.charon_binary)],
            log_path=self.work_dir / "charon.stdout",
            netns=self.ns.name,
            env=self._env(),
            bind_mounts={"/run": run_dir},
        )
        process = self.process

        def ready() -> bool:
            process.check_alive()
            return (
                self.vici_socket.exists() and self.swanctl("--stats", check=False).returncode == 0
            )

        wait_until(ready, timeout=timeout, what=f"{process.name} vici socket",
                   diagnostics=self.diagnostics)  # fmt: skip

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()

    def diagnostics(self) -> str:
        parts = []
        if self.process is not None:
            parts.append(self.process.log_tail(20))
        parts.append(f"--- {self.log_path}:\n" + _tail_text(self.log_path, 60))
        return "\n".join(parts)

    def swanctl(
        self, *args: str, check: bool = True, timeout: float = 30.0
    ) -> subprocess.CompletedProcess[str]:
        return run(
            ["swanctl", *args, "--uri", self.uri], env=self._env(), check=check, timeout=timeout
        )

    def load(self, conn: IkeConnection) -> None:
        """Write swanctl.conf for `conn` and load connection and secret."""
        self.swanctl_dir.mkdir(exist_ok=True)
        for sub in SWANCTL_CREDENTIAL_DIRS:
            (self.swanctl_dir / sub).mkdir(exist_ok=True)
        conf = self.swanctl_dir / "swanctl.conf"
        conf.write_text(render_swanctl_conf(conn))
        self.swanctl("--load-all", "--noprompt", "--file", str(conf))

    def initiate(self, ike: str, timeout: int = 10) -> None:
        """Initiate IKE SA `ike` (no CHILD_SA) and wait for the outcome."""
        try:
            self.swanctl("--initiate", "--ike", ike, "--timeout", str(timeout),
                         timeout=timeout + 5)  # fmt: skip
        except HarnessError as exc:
            raise HarnessError(f"{exc}\n{self.diagnostics()}") from None

    def rekey(self, ike: str) -> None:
        self.swanctl("--rekey", "--ike", ike)

    def terminate(self, ike: str, timeout: int = 10) -> None:
        self.swanctl("--terminate", "--ike", ike, "--timeout", str(timeout),
                     timeout=timeout + 5)  # fmt: skip

    def ike_sas(self) -> list[IkeSaStatus]:
        return parse_list_sas(self.swanctl("--list-sas").stdout)

    def wait_ike_state(
        self, ike: str, state: str = "ESTABLISHED", timeout: float = ESTABLISH_TIMEOUT
    ) -> IkeSaStatus:
        def found() -> IkeSaStatus | None:
            return next((s for s in self.ike_sas() if s.name == ike and s.state == state), None)

        return wait_until(found, timeout=timeout, what=f"IKE SA {ike} {state} in {self.ns.name}",
                          diagnostics=self.diagnostics)  # fmt: skip

    def wait_no_ike_sa(self, ike: str, timeout: float = ESTABLISH_TIMEOUT) -> None:
        wait_until(lambda: not any(s.name == ike for s in self.ike_sas()), timeout=timeout,
                   what=f"IKE SA {ike} gone in {self.ns.name}",
                   diagnostics=self.diagnostics)  # fmt: skip

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def sent_packet_count(self) -> int:
        """Datagrams charon says it sent (NET level 1 "sending packet")."""
        return len(_SENT_PACKET_RE.findall(self.log_text()))


_SENT_PACKET_RE = re.compile(r"\[NET\] (?:<[^>]*> )?sending packet: from ", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class LoggedMessage:
    """One IKE message as charon's ENC log summarises it, e.g.
    `parsed IKE_AUTH request 1 [ IDi IDr AUTH N(INIT_CONTACT) ]`."""

    parsed: bool  # True: received ("parsed"); False: sent ("generating")
    exchange: str  # "IKE_SA_INIT", "IKE_AUTH", "CREATE_CHILD_SA", "INFORMATIONAL"
    is_response: bool
    message_id: int
    payloads: tuple[str, ...]  # "SA", "N(NO_PROP)", "N((40960))" (unknown type), ...


_MESSAGE_RE = re.compile(
    r"\[ENC\] (?:<[^>]*> )?(?P<action>parsed|generating) (?P<exchange>[A-Z_0-9()]+) "
    r"(?P<kind>request|response) (?P<mid>\d+) \[ (?P<payloads>(?:\S+ )*)\]$",
    re.MULTILINE,
)


def parse_logged_messages(log_text: str) -> list[LoggedMessage]:
    """Every message charon parsed or generated, in log order."""
    return [
        LoggedMessage(
            parsed=m["action"] == "parsed",
            exchange=m["exchange"],
            is_response=m["kind"] == "response",
            message_id=int(m["mid"]),
            payloads=tuple(m["payloads"].split()),
        )
        for m in _MESSAGE_RE.finditer(log_text)
    ]


def _tail_text(path: Path, lines: int) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(missing)"


# --- key material from the `ike = 4` log --------------------------------------


@dataclass(frozen=True)
class LoggedIkeKeys:
    """One IKE SA key derivation as charon logged it (RFC 7296 §2.14): the
    project's key set and the DH secret it came from. (Not a subclass of
    RkmpKeys: the compiled core's classes take no Python subclasses.)

    SK_ai/SK_ar are empty for AEAD suites (charon does not log them).
    """

    keys: RkmpKeys
    g_ir: bytes = field(repr=False)


# "<time> 12[IKE] <label> => 32 bytes @ 0x7f..." then
# "<time> 12[IKE]    0: 35 0D DC ...  5....". An `ike_name` "<conn|1> " may follow.
_DUMP_HEADER_RE = re.compile(
    r"(?P<thread>\d+)\[(?P<group>[A-Z]+)\] (?:<[^>]*> )?(?P<label>.+?) => "
    r"(?P<size>\d+) bytes @ (?:0x)?[0-9a-fA-F]+$"
)
_DUMP_LINE_RE = re.compile(
    r"(?P<thread>\d+)\[(?P<group>[A-Z]+)\] (?:<[^>]*> )?"
    r"\s*(?P<offset>\d+): (?P<hex>(?:[0-9A-F]{2} ?)+)"
)

# Log labels (strongSwan keymat_v2.c) -> LoggedIkeKeys fields.
_SHARED_SECRET_LABELS = frozenset({
    "shared Diffie Hellman secret", "shared key exchange secret", "shared secret",
})  # fmt: skip
_KEY_LABELS = {
    "SKEYSEED": "skeyseed",
    "Sk_d secret": "sk_d",
    "Sk_ai secret": "sk_ai",
    "Sk_ar secret": "sk_ar",
    "Sk_ei secret": "sk_ei",
    "Sk_er secret": "sk_er",
    "Sk_pi secret": "sk_pi",
    "Sk_pr secret": "sk_pr",
}


@dataclass(frozen=True, slots=True)
class HexDump:
    thread: int
    label: str
    data: bytes = field(repr=False)


def parse_hex_dumps(log_text: str) -> list[HexDump]:
    """Every `%B` chunk dump in a charon log, in order, per thread."""
    dumps: list[HexDump] = []
    # Per thread: (label, expected size, collected bytes) of an open dump.
    open_dumps: dict[int, tuple[str, int, bytearray]] = {}

    def close(thread: int) -> None:
        label, size, data = open_dumps.pop(thread)
        if len(data) != size:
            raise ValueError(f"hex dump {label!r} has {len(data)} octets, header said {size}")
        dumps.append(HexDump(thread, label, bytes(data)))

    for line in log_text.splitlines():
        header = _DUMP_HEADER_RE.search(line)
        if header:
            thread = int(header["thread"])
            if thread in open_dumps:
                close(thread)
            open_dumps[thread] = (header["label"], int(header["size"]), bytearray())
            if int(header["size"]) == 0:
                close(thread)
            continue
        body = _DUMP_LINE_RE.search(line)
        if body and int(body["thread"]) in open_dumps:
            thread = int(body["thread"])
            label, size, data = open_dumps[thread]
            if int(body["offset"]) != len(data):
                raise ValueError(f"hex dump {label!r}: offset {body['offset']} after {len(data)}")
            data += bytes.fromhex(body["hex"].strip())
            if len(data) >= size:
                close(thread)
    for thread in list(open_dumps):
        close(thread)
    return dumps


def parse_ike_key_sets(log_text: str) -> list[LoggedIkeKeys]:
    """Every IKE SA key derivation (initial and rekeyed) in log order."""
    sets: list[LoggedIkeKeys] = []
    current: dict[int, dict[str, bytes]] = {}
    for dump in parse_hex_dumps(log_text):
        if dump.label in _SHARED_SECRET_LABELS:
            current[dump.thread] = {"g_ir": dump.data}
            continue
        fields = current.get(dump.thread)
        name = _KEY_LABELS.get(dump.label)
        if fields is None or name is None:
            continue
        fields[name] = dump.data
        if name == "sk_pr":
            fields.setdefault("sk_ai", b"")
            fields.setdefault("sk_ar", b"")
            g_ir = fields.pop("g_ir")
            sets.append(LoggedIkeKeys(RkmpKeys(**fields), g_ir))
            del current[dump.thread]
    return sets
