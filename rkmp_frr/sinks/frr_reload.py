"""frr-reload mode: the file given to ``frr-reload.py --reload``, the
check that it changes only rkmpd's lines (both sans-I/O), and the run.

frr-reload.py makes FRR's running config equal to a whole file: it reads
the running config itself and removes every running line the file does not
have. :func:`reload_config` makes that file from a running config read just
before: the same lines, with rkmpd's replaced. If FRR's configuration
changes after that read (FRR still loading it after a restart, an operator
typing), frr-reload.py would remove what came in meanwhile: the operator's
lines. :func:`foreign_changes` is the guard against that: what the file
would remove or add, against a running config read again just before
frr-reload.py runs, that is not rkmpd's (:class:`ReloadOwnership`).
frr-reload.py's own read comes a moment later still: what it says it
removed (:func:`reload_deletions`) is checked afterwards
(:func:`foreign_deletions`), which can only report.

:class:`FrrReloader` runs it all for the FRR sink
(``rkmp_frr.sinks.frr_apply``, step 3 of its module doc), with the command
runner and running-config read it is given: the file (a private 0600
``frr.conf`` in the ``--confdir`` given, so that frr-reload.py does not
``write`` the running config, keys included, to FRR's own configuration
file), the guard, ``frr-reload.py --reload``, the check of what it
removed, and, since FRR 8.4's frr-reload.py cannot delete a key chain (it
makes it anew, empty, when it goes on to remove its keys, and exits 1 for
that alone), ``no key chain`` with vtysh for a chain of rkmpd's the file
leaves out and FRR still shows.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import re
import tempfile
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from rkmp_frr.sinks.frr_readiness import (
    ConfigLine,
    NotReady,
    NotReadyKind,
    config_lines,
    shown_lines,
)
from rkmp_frr.sinks.frr_render import FrrChange
from rkmp_frr.sinks.frr_running_config import ConfigExpectation
from rkmp_frr.sinks.runner import CommandResult
from rkmp_frr.sinks.secrets import config_secrets

if TYPE_CHECKING:  # frr_apply imports this module
    from rkmp_frr.sinks.frr_apply import VtyshCommand

log = logging.getLogger(__name__)

# Blocks rkmpd may create when the running config has none: an interface's
# block holds per-interface settings only. A routing instance (``router
# bgp``, ``router ospf``) is the operator's: creating one starts a protocol.
CREATABLE_BLOCKS = frozenset({"interface"})


@dataclass
class _Block:
    """A top-level line of a configuration and, for a block, its body (the
    indented lines, nested blocks included, without the closing exit)."""

    header: str
    body: list[str] = field(default_factory=list)
    closed: bool = False  # had an "exit"

    def words(self) -> tuple[str, ...]:
        return tuple(self.header.split())

    def text(self) -> list[str]:
        if not self.body and not self.closed:
            return [self.header]
        return [self.header, *self.body, "exit"]


def _blocks(config: str) -> list[_Block]:
    """``show running-config`` as top-level blocks ("!" separators, the
    "Building configuration..." preamble and "end" left out)."""
    blocks: list[_Block] = []
    lines = config.splitlines()
    start = next((i for i, line in enumerate(lines) if line.strip() == "!"), 0)
    for raw in lines[start:]:
        text = raw.rstrip()
        stripped = text.strip()
        if not stripped or stripped in ("!", "end"):
            continue
        if text.startswith(" "):
            if blocks:
                blocks[-1].body.append(text)
            continue
        if stripped == "exit":
            if blocks:
                blocks[-1].closed = True
            continue
        blocks.append(_Block(stripped))
    return blocks


def _line(expectation: ConfigExpectation) -> ConfigLine:
    return tuple(" ".join(h.split()) for h in expectation.context), tuple(expectation.line.split())


def _full_lines(change: FrrChange) -> list[ConfigLine]:
    """rkmpd's lines of a full rendering (an operator's shutdown or passive
    line it expects is not one: it stays in the file as it runs)."""
    return [_line(e) for e in change.running_config_expectations if e.present and not e.operators]


def _matches(
    context: tuple[str, ...], words: tuple[str, ...], absent: Iterable[ConfigLine]
) -> bool:
    """Whether a running line is one an absent expectation forbids (its
    words start with the expectation's, in the same block)."""
    return any(context == c and words[: len(w)] == w for c, w in absent)


@dataclass(frozen=True, slots=True)
class ReloadOwnership:
    """The lines :func:`reload_config` may take out, put in or replace:
    rkmpd's. Whole key chains named by the plans (leftover ones too); the
    lines of the plans (present ones, in their block); running lines the
    desired plan must not leave (rkmpd's shutdown or passive lines on what
    it reopens, its leftover message-digest keys)."""

    chains: frozenset[str]  # "key chain <name>"
    lines: frozenset[ConfigLine]
    unwanted: tuple[ConfigLine, ...]  # prefixes

    def owns(self, line: ConfigLine) -> bool:
        context, words = line
        if context[:1] and context[0] in self.chains:
            return True
        if not context and " ".join(words) in self.chains:
            return True
        if line in self.lines:
            return True
        return len(context) == 1 and _matches(context, words, self.unwanted)


def reload_ownership(
    owned: Sequence[FrrChange], wanted: FrrChange, hold: Iterable[ConfigExpectation] = ()
) -> ReloadOwnership:
    """What :func:`reload_config` with the same arguments owns."""
    # A leftover chain (rkmpd's, from before a restart) is replaced whole
    # too: by the desired plan's chain of that name, or by nothing.
    chains = frozenset(
        f"key chain {name}"
        for change in (*owned, wanted)
        for name in (*change.desired.key_chains, *(c.name for c in change.desired.leftovers.chains))
    )
    held = {_line(e) for e in hold if not e.present}
    # Lines the desired plan must not leave, whoever's plan put them there
    # (after a restart no plan is owned: rkmpd's own shutdown or passive
    # line on an item it reopens is found by these alone).
    unwanted = tuple(
        line
        for line in (_line(e) for e in wanted.running_config_expectations if not e.present)
        if len(line[0]) == 1 and line not in held
    )
    lines = frozenset(line for change in (*owned, wanted) for line in _full_lines(change))
    return ReloadOwnership(chains, lines, unwanted)


def reload_config(
    running: str,
    owned: Sequence[FrrChange],
    wanted: FrrChange,
    hold: Iterable[ConfigExpectation] = (),
) -> str:
    """A full FRR configuration for frr-reload.py: ``running`` without the
    sink's lines of ``owned`` (the full renderings of the plans whose lines
    FRR may run: the plan applied, and after a failed apply the attempted
    one) and with those of ``wanted`` (the full rendering of the desired
    plan). frr-reload.py removes the running lines the file does not have,
    so a line of ``owned`` that ``wanted`` lacks goes. Key chains are
    replaced whole and placed before the first block; other lines go at
    the end of their block (appended if it does not exist). Running lines
    ``wanted`` says must be absent go too (a shutdown or passive line rkmpd
    put there before a restart, on an item it now reopens). ``hold``: "is
    open" expectations (absent lines) whose running lines stay for now,
    though ``owned`` has them (the first of two reloads keeps a neighbour
    shut until its key is read back)."""
    ownership = reload_ownership(owned, wanted, hold)
    chains = ownership.chains
    held = [_line(e) for e in hold if not e.present]
    drop = {
        (context, words)
        for change in owned
        for context, words in _full_lines(change)
        if len(context) == 1 and not any(h == context and words[: len(w)] == w for h, w in held)
    }
    unwanted = ownership.unwanted
    blocks = [b for b in _blocks(running) if " ".join(b.words()) not in chains]
    for block in blocks:
        header = (" ".join(block.words()),)
        block.body = [
            raw
            for raw in block.body
            if raw.startswith("  ")
            or (
                (header, tuple(raw.split())) not in drop
                and not _matches(header, tuple(raw.split()), unwanted)
            )
        ]
    chain_keys: dict[str, dict[str, list[str]]] = {}  # chain -> key line -> its lines
    for context, words in _full_lines(wanted):
        line = " ".join(words)
        if not context and line in chains:
            chain_keys.setdefault(line, {})
        elif context and context[0] in chains:
            keys = chain_keys.setdefault(context[0], {})
            if len(context) == 1:
                keys.setdefault(line, [])
            else:
                keys.setdefault(context[1], []).append(line)
        elif len(context) == 1:
            target = next((b for b in blocks if " ".join(b.words()) == context[0]), None)
            if target is None:
                target = _Block(context[0], closed=True)
                blocks.append(target)
            if f" {line}" not in target.body:
                target.body.append(f" {line}")
                target.closed = True
    chain_blocks = [
        _Block(
            chain,
            [
                part
                for key, lines in keys.items()
                for part in (f" {key}", *(f"  {x}" for x in lines), " exit")
            ],
            closed=True,
        )
        for chain, keys in chain_keys.items()
    ]
    first_block = next((i for i, b in enumerate(blocks) if b.closed), len(blocks))
    ordered = blocks[:first_block] + chain_blocks + blocks[first_block:]
    out: list[str] = []
    for block in ordered:
        out.extend(block.text())
        out.append("!")
    return "\n".join(out) + "\n"


# --- the guard ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ForeignChanges:
    """What a reload file would do to lines that are not rkmpd's."""

    removed: frozenset[ConfigLine]  # running lines the file lacks
    added: frozenset[ConfigLine]  # file lines the running config lacks

    def __bool__(self) -> bool:
        return bool(self.removed or self.added)


def _by_block(lines: Iterable[ConfigLine]) -> dict[tuple[str, ...], list[ConfigLine]]:
    found: dict[tuple[str, ...], list[ConfigLine]] = {}
    for line in lines:
        found.setdefault(line[0], []).append(line)
    return found


def _rkmpds_block(
    line: ConfigLine,
    lines: Mapping[tuple[str, ...], list[ConfigLine]],
    ownership: ReloadOwnership,
) -> bool:
    """Whether ``line`` heads a top-level block that holds nothing but
    rkmpd's lines (FRR shows no block without lines)."""
    context, words = line
    body = lines.get((" ".join(words),), [])
    return not context and bool(body) and all(ownership.owns(inner) for inner in body)


def foreign_changes(reload_file: str, running: str, ownership: ReloadOwnership) -> ForeignChanges:
    """What frr-reload.py, given ``reload_file`` while FRR runs ``running``,
    would remove or add that ``ownership`` does not give to rkmpd (nothing,
    when the file was made from the same running config). Compared line by
    line in their blocks; a line that changes is one removed and one
    added."""
    in_file, in_running = config_lines(reload_file), config_lines(running)
    blocks = _by_block(in_file)
    removed = frozenset(line for line in in_running - in_file if not ownership.owns(line))

    def created(line: ConfigLine) -> bool:  # a block rkmpd may make for its lines
        return line[1][0] in CREATABLE_BLOCKS and _rkmpds_block(line, blocks, ownership)

    added = frozenset(
        line for line in in_file - in_running if not (ownership.owns(line) or created(line))
    )
    return ForeignChanges(removed, added)


# frr-reload.py --reload logs each line it removes (with --stdout, on
# stderr): 'Executed "<command>"', the command being its blocks' headers and
# the "no" line, each indented one space deeper than the last and joined
# with spaces. It removes lines in its first pass only.
_EXECUTED = re.compile(r'Executed "(.*)"\s*$')


def reload_deletions(log_text: str) -> tuple[ConfigLine, ...]:
    """The lines frr-reload.py says it removed. A line is removed with
    ``no <line>``, one that reads ``no X`` with ``X``; a block as a whole
    with ``no <header>``. A removal frr-reload.py had to shorten (ospfd
    takes only ``no ip ospf authentication``) gives the words it ran."""
    found: list[ConfigLine] = []
    for raw in log_text.splitlines():
        match = _EXECUTED.search(raw)
        if match is None:
            continue
        *context, command = re.split(r" {2,}", match[1].strip())
        words = tuple(command.split())
        words = words[1:] if words[:1] == ("no",) else ("no", *words)
        found.append((tuple(" ".join(header.split()) for header in context), words))
    return tuple(found)


def foreign_deletions(
    deletions: Iterable[ConfigLine], ownership: ReloadOwnership
) -> frozenset[ConfigLine]:
    """Of the lines frr-reload.py removed, those that were not rkmpd's: it
    read FRR's configuration after the guard did, and removed what came in
    between. A shortened removal counts as rkmpd's when one of its lines
    starts with it."""

    def shortened(line: ConfigLine) -> bool:
        context, words = line
        return bool(words) and any(
            c == context and w[: len(words)] == words for c, w in ownership.lines
        )

    return frozenset(d for d in deletions if not (ownership.owns(d) or shortened(d)))


# frr-reload.py's log of a removal it gave up on, and of a key chain it
# removed whole; a failed addition is logged as "frr-reload.py failed due to".
_FAILED_REMOVAL = re.compile(r'"(.*)" we failed to remove this command')
_DELETED_CHAIN = re.compile(r'Executed "no key chain (\S+)"')
_FAILED_ADDITION = "frr-reload.py failed due to"


def only_deleted_chain_failures(log_text: str, ownership: ReloadOwnership) -> bool:
    """Whether all frr-reload.py failed at (it exits 1) is removing the
    keys of rkmpd's key chains it had already removed whole: FRR 8.4's
    frr-reload.py deletes a key chain (``no key chain C``), then each key
    of it (``key chain C`` / ``no key N``), which no longer exists. FRR
    then runs what the file says (the read back that follows checks it);
    anything else that failed is a failure."""
    deleted = set(_DELETED_CHAIN.findall(log_text))
    failed = _FAILED_REMOVAL.findall(log_text)
    if not failed or _FAILED_ADDITION in log_text or "Traceback" in log_text:
        return False
    for command in failed:
        words = command.split(" -- ")[0].split()
        if len(words) != 3 or words[:2] != ["key", "chain"] or words[2] not in deleted:
            return False
        if f"key chain {words[2]}" not in ownership.chains:
            return False
    return True


# --- running it ----------------------------------------------------------------------------------

# Runs a command (argv, stdin) with the sink's timeout; reads ``show
# running-config``. What either raises passes through FrrReloader.
RunCommand = Callable[[Sequence[str], str | None], Awaitable[CommandResult]]
ReadRunning = Callable[[], Awaitable[str]]


class ReloadFailed(Exception):
    """frr-reload.py, or the vtysh run after it, failed; one line without keys."""


class ReloadRefused(Exception):
    """The guard refused the reload (FRR's configuration changed after it
    was read): nothing was applied. One line without keys."""

    def __init__(self, problem: NotReady) -> None:
        super().__init__(problem.describe())
        self.problem = problem


@dataclass(frozen=True, slots=True)
class FrrReloader:
    """``frr-reload.py --reload`` for the FRR sink's frr-reload mode (see
    the module doc)."""

    vtysh: VtyshCommand
    frr_reload: str  # the frr-reload.py to run
    run: RunCommand
    read_running: ReadRunning

    async def reload(
        self,
        change: FrrChange,
        owned: Sequence[FrrChange],
        wanted: FrrChange,
        hold: Iterable[ConfigExpectation] = (),
    ) -> None:
        """frr-reload.py --reload on the running config with the lines of
        ``owned`` replaced by ``wanted``'s (:func:`reload_config`); the
        running lines ``hold`` says must not go yet (shutdown, passive)
        stay. ``change``: the change applied (its keys are masked in a
        message). ReloadRefused if the guard refuses, ReloadFailed if
        frr-reload.py or vtysh fails."""
        running = await self.read_running()
        text = reload_config(running, owned, wanted, hold)
        # frr-reload.py reads the running config again and removes what the
        # file lacks: read it once more just before and refuse if the file
        # would remove or add a line that is not rkmpd's (FRR's configuration
        # changed since `running`). One vtysh read (~25 ms here), compared
        # with the same parser that made the file; frr-reload.py --test would
        # cost a second frr-reload.py run per reload and its output parsed,
        # and leave the same window (until frr-reload.py's own read).
        ownership = reload_ownership(owned, wanted, hold)
        latest = await self.read_running()
        foreign = foreign_changes(text, latest, ownership)
        if foreign:
            detail = (
                f"its configuration changed after it was read: the reload would remove"
                f" {len(foreign.removed)} and add {len(foreign.added)} line(s) that are not"
                f" rkmpd's (e.g. {shown_lines(foreign.removed | foreign.added)})"
            )
            raise ReloadRefused(NotReady(NotReadyKind.CHANGED, detail))
        with _private_config(text) as path:
            # The file is <confdir>/frr.conf: frr-reload.py then does not
            # run "write" (which would put the whole running config, keys
            # included, into FRR's own frr.conf; rkmpd's keys live in the
            # running config only, as in vtysh mode).
            result = await self.run([*self._argv(), "--confdir", str(path.parent), str(path)], None)
        _report_foreign_deletions(result, ownership)
        answer = _reload_answer(result)
        if not result.ok and only_deleted_chain_failures(
            f"{answer.stdout}\n{answer.stderr}", ownership
        ):
            # Its exit status only: the read back that follows decides.
            log.info(
                "frr sink: frr-reload.py exited %d only for removing keys of key chains it had"
                " removed whole already",
                result.returncode,
            )
        elif not result.ok:
            # frr-reload.py logs what it runs: the keys it removes too, and
            # the operator's lines it touched (as they were in the file or
            # in the running config it read).
            shown = scrubbed(answer, change, wanted, *owned, config=f"{text}\n{latest}")
            raise ReloadFailed(f"frr-reload.py failed: {shown}")
        await self._delete_chains_left(ownership, wanted)

    def _argv(self) -> list[str]:
        """frr-reload.py reaching the daemons the way vtysh does."""
        vtysh = self.vtysh
        argv = [*vtysh.wrapper, self.frr_reload, "--reload", "--stdout"]
        if vtysh.vty_socket is not None:
            argv += ["--vty_socket", str(vtysh.vty_socket)]
        if vtysh.pathspace is not None:
            argv += ["--pathspace", vtysh.pathspace]
        bindir = os.path.dirname(vtysh.vtysh)
        if bindir:
            argv += ["--bindir", bindir]
        return argv

    async def _delete_chains_left(self, ownership: ReloadOwnership, wanted: FrrChange) -> None:
        """frr-reload.py (FRR 8.4) cannot delete a key chain: after ``no
        key chain C`` it enters ``key chain C`` again to remove each key,
        which makes the chain anew, empty. Those of rkmpd's chains the file
        left out and FRR still shows are deleted with vtysh."""
        kept = {f"key chain {name}" for name in wanted.desired.key_chains}
        gone = sorted(ownership.chains - kept)
        if not gone:
            return
        running = config_lines(await self.read_running())
        left = [chain for chain in gone if ((), tuple(chain.split())) in running]
        if not left:
            return
        commands = lines_text(f"no {chain}" for chain in left)
        result = await self.run(self.vtysh.argv("-f", "/dev/stdin"), commands)
        if not result.ok:
            raise ReloadFailed(f"FRR refused the change: {scrubbed(result, wanted)}")


def _report_foreign_deletions(result: CommandResult, ownership: ReloadOwnership) -> None:
    """After frr-reload.py: did it remove lines that are not rkmpd's after
    all (FRR's configuration changed in the moment between the guard's
    read and its own)? They cannot be put back (rkmpd does not know them
    all): say so loudly. Its log is all that tells."""
    foreign = foreign_deletions(reload_deletions(f"{result.stdout}\n{result.stderr}"), ownership)
    if foreign:
        log.error(
            "frr sink: frr-reload.py removed %d line(s) that are not rkmpd's (FRR's"
            " configuration changed while it ran); check FRR's configuration: %s",
            len(foreign),
            shown_lines(foreign, limit=10),
        )


# frr-reload.py's lines that say nothing about a failure (its arguments, the
# configurations it loads, vtysh's complaint about the vtysh.conf the private
# --confdir lacks) and the colours of its log levels: left out of a message,
# which shows the start of the output only.
_RELOAD_NOISE = re.compile(
    r"INFO: (?:Called via|Loading Config object)|Can't open configuration file \S*vtysh\.conf"
)
_COLOUR = re.compile(r"\x1b\[[0-9;]*m")


def _reload_answer(result: CommandResult) -> CommandResult:
    """frr-reload.py's answer with what tells the failure only."""

    def kept(text: str) -> str:
        lines = _COLOUR.sub("", text).splitlines()
        return "".join(f"{line}\n" for line in lines if not _RELOAD_NOISE.search(line))

    return dataclasses.replace(result, stdout=kept(result.stdout), stderr=kept(result.stderr))


@contextlib.contextmanager
def _private_config(text: str) -> Iterator[Path]:
    """``text`` (it may hold keys) as ``frr.conf`` in a new 0700
    directory, removed on exit."""
    with tempfile.TemporaryDirectory(prefix="rkmp-frr-") as directory:
        path = Path(directory) / "frr.conf"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        yield path


# --- shared with the vtysh path of rkmp_frr.sinks.frr_apply ----------------------------------


def lines_text(lines: Iterable[str]) -> str:
    """Commands as the text of a file (``vtysh -f``)."""
    return "".join(f"{line}\n" for line in lines)


def _secrets(*changes: FrrChange) -> set[str]:
    found: set[str] = set()
    for change in changes:
        plan = change.desired
        found.update(entry.key for entry in plan.bgp.values())
        for chain in plan.key_chains.values():
            found.update(key.key for key in chain.keys)
        for interface in plan.ospf.values():
            found.update(key.key for key in interface.md5_keys)
    return found


def scrubbed(result: CommandResult, *changes: FrrChange, config: str = "") -> str:
    """A tool's answer for a message: vtysh echoes failing lines, and
    frr-reload.py the lines it runs; every key in them is masked, rkmpd's
    (of ``changes``) and the operator's (those of ``config``, the
    configuration the tool worked on, and any after a password keyword)."""
    return result.describe(keys=_secrets(*changes), known=config_secrets(config))
