"""``tui-trader`` with no command: the desk on a screen.

The screen comes first: the live-account confirmation is asked at the terminal (before
anything connects), then the screen is drawn at once and the rest happens behind it, each step
said on it (:class:`DeskStart`). When the settings cannot be live
(:func:`tui_trader.config.early.could_be_live`) and there is a terminal, even the settings are
built behind the first frame (:func:`run_desk_first`: pydantic's import and the models are a
third of the start); then the embedded emulator starts (or the remote target is set up),
the journal opens, the desk is built; the desk then reads the account and warms its policy up
with its own progress in the header. The desk never imports the screen: ``cli`` hands in
``show`` (:func:`tui_trader.ui.launch.show_desk`). Whether the policy sends orders is
:mod:`tui_trader.desk.launch.consent`'s rule, headless's too.

A start that fails behind the screen (a wrong setting, the paper account's file held by
another tui-trader, a journal that cannot open) ends the screen at once and is said on stderr
once the terminal is back, with exit code 2: the same line and code as when it happened before
the screen, and the line stays in the terminal where the trader can read and copy it.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Coroutine
from importlib import import_module
from typing import TYPE_CHECKING, Any, TypeVar

from tui_trader.config import Mode
from tui_trader.desk.launch.consent import (
    Ask,
    Consent,
    Refused,
    Request,
    broker_account_number,
    decide,
    terminal_prompt,
)

if TYPE_CHECKING:
    from tui_trader.broker.journal import Journal
    from tui_trader.config import Settings
    from tui_trader.desk.desk import Desk
    from tui_trader.desk.target import Target

log = logging.getLogger("tui_trader.desk")

EXIT_OK, EXIT_USAGE = 0, 2
T = TypeVar("T")


class StartFailed(Exception):
    """The desk could not start; ``str()`` is the one line the trader is told."""


class DeskStart:
    """The desk's start, which the screen runs once its first frame is drawn.

    :meth:`open` starts the target (the embedded emulator, its paper account resumed), opens
    the journal and builds the desk, saying what it does in ``progress`` (the screen shows it)
    and what was done in ``done``. A failure leaves its line in ``error``; :meth:`close`
    releases whatever was opened, however far the start got (even while a step is still
    running in its thread: it waits for that step)."""

    def __init__(
        self,
        settings: Settings | None,
        *,
        trade: bool | None,
        persist: bool = True,
        load: Callable[[], Settings] | None = None,
    ) -> None:
        """``settings`` built, with ``trade`` the consent's answer; or None with ``load``,
        which builds them behind the first frame (:func:`run_desk_first`), ``trade`` then
        being the command line's ``--trade``/``--watch`` (None: neither) for the consent."""
        if settings is None and load is None:
            raise ValueError("the settings, or how to load them")
        self.settings = settings
        self.trade = trade
        self.persist = persist  # the embedded emulator keeps its paper account (sim/persist.py)
        self._load = load
        self.mode: str | None = None  # the header's badge: None until the settings are read
        self.demo_speed: float | None = None
        self.progress = "reading the settings…"
        if settings is not None:
            self._know(settings)
        self.done: list[str] = []  # the steps behind it, with how long each took
        self.error: str | None = None
        self.error_line: str | None = None  # the whole line for stderr, when not the usual
        self.note: str | None = None  # the emulator's word on its file (a file set aside)
        self.target: Target | None = None
        self.journal: Journal | None = None
        self.desk: Desk | None = None
        self._scratch: tempfile.TemporaryDirectory[str] | None = None
        self._lock = threading.Lock()  # a step in its thread and close() never overlap
        self._closed = False

    def _know(self, settings: Settings) -> None:
        self.settings = settings
        self.mode = settings.mode.value
        embedded = settings.mode is Mode.SIM
        speed = settings.sim.speed_for(embedded=True) if embedded else None
        self.demo_speed = None if speed in (None, 1.0) else speed
        self.progress = "starting the paper emulator…" if embedded else "preparing the connection…"

    async def prepare(self) -> Settings:
        """The settings, read now if they were not given, and the consent decided on them:
        :class:`StartFailed` when they are wrong (the line ``load_settings`` would print) or
        would need a live account confirmed at the terminal, which is no longer there."""
        if self.settings is not None:
            return self.settings
        return await self._failing(self._prepare())

    async def _prepare(self) -> Settings:
        began = time.monotonic()
        settings = await asyncio.to_thread(self._read_settings)
        try:  # never asks: a live account is confirmed before the screen (could_be_live)
            consent = await decide(
                settings, Request(trade=self.trade, screen=True), _no_number, None
            )
        except Refused as exc:
            self.error_line = f"tui-trader: {exc}"
            self.error = str(exc)
            raise StartFailed(str(exc)) from None
        self.trade = consent.trade
        self._know(settings)
        self._done("settings read", began)
        return settings

    def _settings(self) -> Settings:
        assert self.settings is not None, "prepare() first"
        return self.settings

    def _read_settings(self) -> Settings:
        from tui_trader.config import ConfigError

        assert self._load is not None
        try:
            return self._load()
        except ConfigError as exc:  # said as the command line says it: one line, no prefix
            self.error_line = str(exc)
            self.error = str(exc)
            raise StartFailed(str(exc)) from None

    async def open(self) -> Desk:
        """The desk, built; :class:`StartFailed` (its line also in ``error``) when it cannot."""
        return await self._failing(self._open())

    async def _failing(self, step: Coroutine[Any, Any, T]) -> T:
        """``step``'s result; any failure as :class:`StartFailed` with its line in ``error``."""
        try:
            return await step
        except StartFailed as exc:
            self.error = str(exc)
            raise
        except Exception as exc:  # a bug: said in one line, the traceback in the log
            log.exception("the desk did not start")
            self.error = f"the desk did not start: {type(exc).__name__}: {exc}"
            raise StartFailed(self.error) from exc

    async def _open(self) -> Desk:
        settings = await self.prepare()
        embedded = settings.mode is Mode.SIM
        self._step("starting the paper emulator…" if embedded else "preparing the connection…")
        began = time.monotonic()
        # the desk's modules load beside the emulator's start: the emulator waits on its
        # server thread meanwhile, and the screen's loop keeps turning between the two
        await asyncio.gather(
            asyncio.to_thread(self._resolve),
            asyncio.to_thread(import_module, "tui_trader.desk.desk"),
        )
        self._done("paper emulator started" if embedded else "connection set up", began)
        self._step("opening the journal…")
        began = time.monotonic()
        await asyncio.to_thread(self._open_journal)
        self._done("journal open", began)
        self._step("building the desk…")
        began = time.monotonic()
        from tui_trader.desk.desk import Desk, DeskOptions

        with self._lock:
            if self._closed or self.target is None or self.journal is None:
                raise StartFailed("the start was abandoned")
            options = DeskOptions(trade=self.trade is True)
            self.desk = Desk(settings, self.target, self.journal, options)
        self._done("desk built", began)
        return self.desk

    def _step(self, text: str) -> None:
        self.progress = text
        log.info("start-up", extra={"step": text})

    def _done(self, text: str, began: float) -> None:
        self.done.append(f"{text} ({time.monotonic() - began:.1f} s)")

    def _resolve(self) -> None:
        from tui_trader.desk.target import resolve
        from tui_trader.sim.persist import StateError

        with self._lock:
            if self._closed:
                return
            try:  # the embedded emulator keeps its paper account in the data dir
                self.target = resolve(self._settings(), persist=self.persist)
            except StateError as exc:
                raise StartFailed(str(exc)) from None
            embedded = self.target.embedded
            self.note = embedded.emulator.store_note if embedded is not None else None

    def _open_journal(self) -> None:
        from tui_trader.broker.journal import Journal

        with self._lock:
            if self._closed or self.target is None:
                return
            path, self._scratch = self.target.journal_file(self._settings().data_dir)
            try:
                self.journal = Journal.open(path)
            except Exception as exc:
                raise StartFailed(f"journal {path}: {exc}") from None

    def close(self) -> None:
        """Release the journal, the emulator and the scratch dir, once; waits for a step
        still running in its thread (a quit during the start)."""
        with self._lock:
            self._closed = True
            if self.journal is not None:
                self.journal.close()
                self.journal = None
            if self.target is not None:
                self.target.close()
                self.target = None
            if self._scratch is not None:
                self._scratch.cleanup()
                self._scratch = None


async def _no_number() -> str:
    """Never asked: with no prompt, the consent refuses a live account before it asks."""
    raise Refused("a live account is confirmed at the terminal; nothing was started")


def run_desk(
    settings: Settings,
    show: Callable[[Settings | None, DeskStart], None],
    *,
    trade: bool | None = None,
    persist: bool = True,
) -> int:
    """Confirm, then ``show`` the screen, which runs the :class:`DeskStart` it is given."""
    try:  # before anything connects (and before the emulator starts)
        consent = screen_consent(settings, trade)
    except Refused as exc:
        print(f"tui-trader: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return _show(DeskStart(settings, trade=consent.trade, persist=persist), show, settings)


def run_desk_first(
    load: Callable[[], Settings],
    show: Callable[[Settings | None, DeskStart], None],
    *,
    trade: bool | None = None,
    persist: bool = True,
) -> int:
    """``show`` the screen at once; ``load`` builds the settings behind its first frame.

    Only for settings that cannot be live (:func:`tui_trader.config.early.could_be_live`):
    the start refuses a live account all the same, since it cannot ask at the terminal."""
    return _show(DeskStart(None, trade=trade, persist=persist, load=load), show, None)


def _show(
    start: DeskStart, show: Callable[[Settings | None, DeskStart], None], settings: Settings | None
) -> int:
    try:
        show(settings, start)
    finally:
        start.close()
    if start.error is not None:  # the screen ended at once: said where it stays
        print(start.error_line or f"tui-trader: error: {start.error}", file=sys.stderr)
        return EXIT_USAGE
    if start.note:  # the screen covered it: said again once the terminal is back
        print(f"tui-trader: {start.note}", file=sys.stderr)
    return EXIT_OK


def screen_consent(
    settings: Settings,
    trade: bool | None,
    prompt: Callable[[], Ask | None] = terminal_prompt,
) -> Consent:
    """The screen's side of the rule: ``--trade`` / ``--watch`` / neither; a live account
    is confirmed at the terminal before anything starts (``prompt`` makes the prompt, None
    when there is no terminal; tests inject one)."""

    async def number() -> str:
        from tui_trader.desk.target import resolve

        target = resolve(settings)  # a live account is remote: this starts nothing
        try:
            return await broker_account_number(target)
        finally:
            target.close()

    return asyncio.run(decide(settings, Request(trade=trade, screen=True), number, prompt()))
