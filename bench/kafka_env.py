"""What the broker benchmarks share: a broker, a fresh service environment, process readings.

Uses KAFKA_BOOTSTRAP_SERVERS if set, else starts a local broker (agents.broker) on free ports.
Process figures come from /proc (no psutil here): CPU seconds (user + system) and peak RSS.
"""

from __future__ import annotations

import os
import platform
import signal
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from agents.broker import free_port, throwaway_broker
from agents.settings import Settings
from agents.topics import ensure_topics

TICKS = os.sysconf("SC_CLK_TCK")


@contextmanager
def broker() -> Iterator[tuple[str, int | None]]:
    """(bootstrap servers, pid of our broker or None when it is not ours).

    A SIGTERM to the benchmark ends it through its ``finally`` blocks, so the workers it
    started are stopped and our broker's home is removed (Python's default just exits).
    """
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if bootstrap:
        yield bootstrap, None
        return
    with throwaway_broker(heap="768m") as local:
        yield local.bootstrap, local.running_pid()


def environment(bootstrap: str, **extra: str) -> tuple[dict[str, str], Settings]:
    """Environment for a fresh run of the service (own topics, app id, state dir), topics made."""
    tag = uuid.uuid4().hex[:8]
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "STORYSTREAM_TOPIC_PREFIX": f"b{tag}.",
        "STORYSTREAM_APP_ID": f"storystream-bench-{tag}",
        "STORYSTREAM_WEB_PORT": str(free_port()),
        "STORYSTREAM_STATE_DIR": tempfile.mkdtemp(prefix="storystream-bench-"),
        "STORYSTREAM_PARTITIONS": "1",
        **extra,
    }
    settings = Settings.for_environment(env)
    ensure_topics(settings)
    return env, settings


def rss_mb(pid: int) -> float:
    """Resident memory of a process now, MB."""
    return _status_mb(pid, "VmRSS:")


def peak_rss_mb(pid: int) -> float:
    """Peak resident memory of a process so far, MB."""
    return _status_mb(pid, "VmHWM:")


def _stat_cpu_seconds(stat: Path) -> float:
    """User + system CPU time in a ``/proc/.../stat`` file (a process's or a thread's), or 0."""
    try:
        fields = stat.read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process has used so far."""
    return _stat_cpu_seconds(Path(f"/proc/{pid}/stat"))


def loop_cpu_seconds(pid: int) -> float:
    """CPU time a process's main thread has used so far: a worker's event loop.

    The rest of a worker's CPU goes to threads beside its loop: faust's consumer thread, the
    updates feed of its API (with kafka-python's I/O thread) and the helper pools' threads.
    """
    return _stat_cpu_seconds(Path(f"/proc/{pid}/task/{pid}/stat"))


def queued_seconds(pid: int) -> float:
    """Time a process's threads have spent ready to run but waiting for a core, so far.

    Where the cores run short this says which process the shortage falls on (the kernel's
    ``schedstat``, second field, summed over the live threads): a stage that waits here is
    held back by the others' CPU, not by its own work. 0 where the kernel keeps no schedstat.
    """
    total = 0
    for stat in Path(f"/proc/{pid}/task").glob("*/schedstat"):
        try:
            total += int(stat.read_text().split()[1])
        except (OSError, IndexError, ValueError):  # a thread that ended meanwhile
            continue
    return total / 1e9


def stolen_seconds() -> float:
    """CPU time the hypervisor gave this machine's other tenants while it wanted to run.

    The ``steal`` column of ``/proc/stat`` (all cores; 0 where the kernel does not count it):
    on a shared virtual machine, a run whose figures fall apart is often one that was robbed.
    """
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()
    except OSError:
        return 0.0
    return int(fields[8]) / TICKS if len(fields) > 8 else 0.0


def jit_cpu_seconds(pid: int) -> float:
    """CPU time a JVM's just-in-time compiler threads have used so far (0 if not a JVM).

    A fresh broker compiles its hot paths for minutes: in a one-minute run that was half of its
    CPU, which a broker that has run for days no longer spends.
    """
    total = 0.0
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            name = (task / "comm").read_text()
        except (FileNotFoundError, ProcessLookupError):
            continue  # the thread ended
        if name.startswith(("C1 CompilerThre", "C2 CompilerThre")):
            total += _stat_cpu_seconds(task / "stat")
    return total


def process_name(pid: int) -> str:
    """A process's name (``/proc/PID/comm``): a worker's helpers are named by stage."""
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except (FileNotFoundError, ProcessLookupError):
        return ""


def helper_stage(pid: int) -> str | None:
    """The stage a worker's helper process serves (``summary-helper`` -> ``summary``), or None.

    A worker's children are its helpers, named by stage, and multiprocessing's resource tracker.
    """
    name = process_name(pid)
    return name.removesuffix("-helper") if name.endswith("-helper") else None


def descendants(pid: int) -> list[int]:
    """Live child processes of ``pid``, their children and so on (a worker's helpers)."""
    parents: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        parents.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, queue = [], list(parents.get(pid, []))
    while queue:
        child = queue.pop()
        found.append(child)
        queue.extend(parents.get(child, []))
    return found


def interpreter() -> str:
    """The Python that runs the benchmark (and the workers it starts): version and binary.

    Printed beside the processor: a distribution's CPython and a default source build (pyenv's)
    differ by 9 % in the instructions our core takes (``bench/instructions.py``).
    """
    base = getattr(sys, "_base_executable", sys.executable)
    return f"Python {platform.python_version()} ({base})"


def cpu_model() -> str:
    """This machine's processor as /proc/cpuinfo names it, with its cores and clock.

    Printed with every end-to-end table: two of our 2-core machines differ by a third and more
    on the same code, and a table that does not say which machine made it cannot be compared.
    Family and model tell generations apart where a virtual machine's name does not ("AMD EPYC"
    has covered processors whose core cost differed by half).
    """
    try:
        info = Path("/proc/cpuinfo").read_text()
    except FileNotFoundError:
        return f"unknown processor, {os.cpu_count()} cores"
    fields = dict(line.split(":", 1) for line in info.splitlines() if ":" in line and "\t" in line)
    name = " ".join(fields.get("model name\t", "unknown processor").split())
    family, model = fields.get("cpu family\t", "").strip(), fields.get("model\t\t", "").strip()
    generation = f" (family {family}, model {model})" if family and model else ""
    mhz = fields.get("cpu MHz\t\t", "").strip()
    clock = f" at {float(mhz) / 1000:.1f} GHz" if mhz else ""
    return f"{name}{generation}{clock}, {os.cpu_count()} cores"


def _status_mb(pid: int, key: str) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key):
                return int(line.split()[1]) / 1024
    except FileNotFoundError:
        pass
    return 0.0
