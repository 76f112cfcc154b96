"""``tui-trader replay``: a recorded session played through the desk's screen, read-only.

Finds the journal (``--journal``, or the one of the account the settings point at), checks it
can be replayed, resolves ``--from`` against what it holds, and hands a
:class:`~tui_trader.desk.replay.ReplayDesk` to ``show`` (``cli.py`` gives
:func:`tui_trader.ui.launch.show_replay`: the desk never imports the screen). Nothing starts:
no emulator, no connection, no client; a journal that is missing, not a journal, empty or
ends before ``--from`` is one line on stderr and exit 2.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from tui_trader.config import Mode, Settings

if TYPE_CHECKING:
    from tui_trader.desk.replay import ReplayDesk

EXIT_OK, EXIT_USAGE = 0, 2
_RELATIVE = re.compile(r"^-(\d+(?:\.\d+)?)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}

From = datetime | timedelta
"""``--from``: a time, or how long before the recording's end (``-1h``)."""


def parse_from(text: str) -> From:
    """An ISO/RFC3339 time (no zone: UTC), or ``-N[smhd]`` before the journal's last record."""
    text = text.strip()
    match = _RELATIVE.match(text)
    if match:
        return timedelta(**{_UNITS[match.group(2)]: float(match.group(1))})
    try:
        at = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"--from: not a time: {text!r} (an ISO time such as 2026-11-24T15:00:00Z,"
            " or -30m / -1h / -2d before the end of the recording)"
        ) from None
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def default_journal(settings: Settings) -> Path | None:
    """The journal of the account the settings point at. With no credentials, the embedded
    emulator's kept paper account's (named for it, as the screen names it); None when there
    is none."""
    if settings.mode is not Mode.SIM:
        from tui_trader.broker.journal import journal_path
        from tui_trader.desk.target import resolve

        path = journal_path(settings.data_dir, resolve(settings).account_key())  # starts nothing
        return path if path.is_file() else None
    from tui_trader.broker.journal import journal_path
    from tui_trader.sim.persist import saved_instance, state_path

    instance = saved_instance(state_path(settings.data_dir))
    if instance is None:
        return None
    path = journal_path(settings.data_dir, f"sim-{instance}")
    return path if path.is_file() else None


def run_replay(
    settings: Settings,
    show: Callable[[Settings, ReplayDesk], None],
    *,
    journal: Path | None = None,
    start: From | None = None,
    speed: float | None = 10.0,
) -> int:
    from tui_trader.desk.replay import ReplayDesk
    from tui_trader.desk.replay_source import Recording, ReplayError

    path = journal if journal is not None else default_journal(settings)
    if path is None:
        return _fail(
            f"no journal to replay in {settings.data_dir} (run the desk first, or --journal PATH)"
        )
    try:
        recording = Recording(path)
    except ReplayError as exc:
        return _fail(str(exc))
    try:
        span = recording.span()
        if span is None:
            return _fail(f"{path} holds no events and no decisions: nothing to replay")
        begin = _begin(start, span)
        if begin is not None and begin > span[1]:
            end = datetime.fromtimestamp(span[1], UTC).isoformat(timespec="seconds")
            return _fail(f"--from is after the recording, which ends at {end}")
        show(settings, ReplayDesk(settings, recording, start=begin, speed=speed))
    finally:
        recording.close()
    return EXIT_OK


def _begin(start: From | None, span: tuple[float, float]) -> float | None:
    if start is None:
        return None
    if isinstance(start, timedelta):
        return span[1] - start.total_seconds()
    return start.timestamp()


def _fail(text: str) -> int:
    print(f"tui-trader: error: {text}", file=sys.stderr)
    return EXIT_USAGE
