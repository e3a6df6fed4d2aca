"""Helper processes of a worker: CPU work that runs beside the event loop, not on it.

A worker's agents share one Python thread. Work that needs no I/O (preparing articles,
clustering, summarising stories) runs in processes the worker spawns, while its loop keeps
consuming and producing. Helpers are spawned (not forked from a process that runs threads)
and die with the worker: Linux is asked to signal them when their parent goes, so a crashed
worker leaves no orphans.

A :class:`Helper` is one process and a socket to it, driven by the worker's event loop: a
call is pickled and written on the loop's thread, and the reply is read when the loop sees the
socket readable. Pickles are only read from that socket: a pair made by the worker, whose other
end only the helper it spawned holds.

``concurrent.futures``' process pool, used before, ran two threads of its own in the worker
for each pool (a feeder that pickles calls, a manager that reads replies and hands them to
the loop): four pools' eight threads, woken on every batch, each taking the interpreter's
lock from the loop to move bytes the loop can move itself.
"""

from __future__ import annotations

import asyncio
import ctypes
import io
import multiprocessing
import pickle
import signal
import socket
import struct
import sys
import traceback
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agents.runtime import keep_survivors, tune_garbage_collector


def die_with_parent(sig: int = signal.SIGTERM) -> None:
    """Ask Linux to send ``sig`` to this process when the one that started it exits or dies."""
    if sys.platform.startswith("linux"):
        pr_set_pdeathsig = 1
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(pr_set_pdeathsig, sig)


def killed_with_parent() -> None:
    """:func:`die_with_parent` with SIGKILL: for a worker whose launcher is gone.

    A faust worker's graceful stop can hang when its broker went with the launcher (it kept
    retrying for half an hour, using a third of a core); nothing waits for it any more.
    """
    die_with_parent(signal.SIGKILL)


def name_process(name: str) -> None:
    """Name this process as ``top``, ``ps -o comm`` and ``/proc/PID/comm`` show it.

    A worker runs three kinds of helper, all ``python`` by default: named by stage, an
    operator (and the benchmark) can tell which stage uses the CPU. Linux keeps 15 bytes.
    """
    try:
        Path("/proc/self/comm").write_text(name[:15])
    except OSError:  # not Linux, or no procfs: the name is a convenience only
        pass


def _start_helper(stage: str) -> None:
    """Set up a helper as the worker is set up: it exits with it, and collects garbage rarely.

    The summary and clustering helpers hold what the worker's loop held before (story states,
    trackers: millions of long-lived objects); with CPython's default thresholds the cycle
    collector kept rescanning them, as it did in the worker before its tuning.
    """
    die_with_parent()
    tune_garbage_collector()
    name_process(helper_name(stage))


def helper_name(stage: str) -> str:
    """The process name of a stage's helpers (``summary`` -> ``summary-helper``)."""
    return f"{stage}-helper"


class HelperGone(RuntimeError):
    """The helper process exited or was killed: its calls in flight have no reply."""


_HEADER = struct.Struct("!Q")
"""A message's length, before its bytes: a pickled call ``(function, args)`` to a helper, or a
helper's pickled reply ``(ok, value, remote traceback)``."""

_READ_SIZE = 262_144
"""Bytes read from a helper's socket at once (a clustering batch's reply is about 300 kB)."""


def _framed(message: object) -> memoryview:
    """``message`` pickled behind its length: one buffer, written with one call."""
    buffer = io.BytesIO()
    buffer.write(bytes(_HEADER.size))
    pickle.dump(message, buffer, protocol=pickle.HIGHEST_PROTOCOL)
    view = buffer.getbuffer()
    view[: _HEADER.size] = _HEADER.pack(len(view) - _HEADER.size)
    return view


class Helper:
    """One helper process for ``stage``, called from the worker's event loop.

    Calls are answered in the order they were made (the helper works on one at a time), so
    the replies resolve the waiting futures in turn. A call is handed over (written, or
    queued to be written as the socket takes it) before :meth:`submit` returns.
    """

    def __init__(self, stage: str) -> None:
        self.stage = stage
        ours, theirs = socket.socketpair()
        self._process = multiprocessing.get_context("spawn").Process(
            target=_serve, args=(theirs, stage), name=helper_name(stage), daemon=True
        )
        self._process.start()
        theirs.close()
        ours.setblocking(False)
        self._socket = ours
        self._loop: asyncio.AbstractEventLoop | None = None
        self._waiting: deque[asyncio.Future[Any]] = deque()
        self._outbox = bytearray()
        self._inbox = bytearray()
        self._chunk = bytearray(_READ_SIZE)
        self._gone: str | None = None

    @property
    def pid(self) -> int | None:
        """The helper's process id."""
        return self._process.pid

    def submit(self, function: Callable[..., Any], *args: Any) -> asyncio.Future[Any]:
        """Call ``function(*args)`` in the helper; the future holds its return value.

        ``function`` and ``args`` must pickle (a module-level function and plain data). An
        exception raised in the helper is raised from the future, the helper's traceback in
        its notes; :class:`HelperGone` when the process is gone.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        if self._gone is not None:
            future.set_exception(HelperGone(self._gone))
            return future
        self._attach(loop)
        self._waiting.append(future)
        self._outbox += _framed((function, args))
        self._write()
        return future

    def close(self) -> None:
        """Stop the helper: it exits when it reads the end of its socket (or with the worker)."""
        if self._gone is None:
            self._lose(f"the {self.stage} helper was closed")

    def _attach(self, loop: asyncio.AbstractEventLoop) -> None:
        """Have ``loop`` read the replies (a new loop, after another one ran calls earlier)."""
        if self._loop is loop:
            return
        self._detach()
        self._loop = loop
        loop.add_reader(self._socket.fileno(), self._read)
        if self._outbox:
            loop.add_writer(self._socket.fileno(), self._write)

    def _detach(self) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.remove_reader(self._socket.fileno())
            self._loop.remove_writer(self._socket.fileno())
        self._loop = None

    def _write(self) -> None:
        """Write what the socket takes now; the loop writes the rest when it can."""
        try:
            sent = self._socket.send(self._outbox)
        except BlockingIOError:
            sent = 0
        except OSError as error:
            self._lose(f"the {self.stage} helper's socket failed: {error}")
            return
        del self._outbox[:sent]
        if self._loop is not None:
            if self._outbox:
                self._loop.add_writer(self._socket.fileno(), self._write)
            else:
                self._loop.remove_writer(self._socket.fileno())

    def _read(self) -> None:
        """Take what arrived; resolve a waiting call for each whole reply."""
        try:
            size = self._socket.recv_into(self._chunk)
        except BlockingIOError:
            return
        except OSError as error:
            self._lose(f"the {self.stage} helper's socket failed: {error}")
            return
        if not size:
            self._lose(f"the {self.stage} helper process exited")
            return
        inbox = self._inbox
        inbox += memoryview(self._chunk)[:size]
        while len(inbox) >= _HEADER.size:
            (length,) = _HEADER.unpack_from(inbox)
            end = _HEADER.size + length
            if len(inbox) < end:
                return
            try:
                with memoryview(inbox) as view:
                    ok, value, remote = pickle.loads(view[_HEADER.size : end])  # noqa: S301
            except Exception as error:  # a reply class this process cannot rebuild
                self._lose(f"the {self.stage} helper's reply did not unpickle: {error!r}")
                return
            del inbox[:end]
            future = self._waiting.popleft()
            if future.done() or future.get_loop().is_closed():
                continue  # cancelled, or made by a loop that has ended
            if ok:
                future.set_result(value)
            else:
                value.add_note(f"in the {self.stage} helper process:\n{remote}")
                future.set_exception(value)

    def _lose(self, reason: str) -> None:
        """The helper is gone (or being let go): fail what waits for it, free the socket."""
        self._gone = reason
        self._detach()
        self._socket.close()
        self._process.join(timeout=0)  # reaps it if it has exited; never waits
        waiting, self._waiting = self._waiting, deque()
        for future in waiting:
            if not future.done() and not future.get_loop().is_closed():
                future.set_exception(HelperGone(reason))


def _serve(connection: socket.socket, stage: str) -> None:
    """A helper process's life: read a call, run it, write its reply; until the socket ends."""
    _start_helper(stage)
    # Ctrl-C in a terminal reaches the whole process group: the worker stops its helpers.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with connection:
        while (request := _receive(connection)) is not None:
            function, args = pickle.loads(request)  # noqa: S301
            try:
                reply: tuple[bool, Any, str] = (True, function(*args), "")
            except Exception as error:
                reply = (False, error, traceback.format_exc())
            try:
                framed = _framed(reply)
            except Exception as error:  # an exception that does not pickle
                framed = _framed((False, RuntimeError(repr(reply[1])), f"{error}"))
            connection.sendall(framed)


def _receive(connection: socket.socket) -> bytearray | None:
    """The next message from a blocking socket, or None at its end."""
    header = _receive_exactly(connection, _HEADER.size)
    if header is None:
        return None
    (length,) = _HEADER.unpack(header)
    message = _receive_exactly(connection, length)
    if message is None:
        raise EOFError("the worker's socket ended inside a message")
    return message


def _receive_exactly(connection: socket.socket, size: int) -> bytearray | None:
    """``size`` bytes, or None when the socket ends before the first of them."""
    buffer = bytearray(size)
    view = memoryview(buffer)
    done = 0
    while done < size:
        got = connection.recv_into(view[done:])
        if not got:
            if done == 0:
                return None
            raise EOFError("the worker's socket ended inside a message")
        done += got
    return buffer


_KEPT: dict[type, Any] = {}
"""In a helper process: the work object kept for each work class (its state lives as long as
the process: parsed story states, trackers)."""


def run_kept_work(factory: type, options: object, *args: Any) -> Any:
    """In a helper process: ``run(*args)`` on the work kept there for ``factory``.

    The work is made from ``options`` on first use (or when they changed) and kept between
    calls, which is what makes a single helper worth its pipe: it holds what it worked on.
    """
    work = _KEPT.get(factory)
    if work is None or work.options != options:
        work = _KEPT[factory] = factory(options)
    result = work.run(*args)
    keep_survivors()
    return result
