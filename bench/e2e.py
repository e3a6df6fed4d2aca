"""End to end through Kafka: sustained articles/s and produce-to-update latency, per stage costs.

    python bench/e2e.py                                   # one worker, 300 articles/s, 60 s
    python bench/e2e.py --workers 1,2,4 --rate 0          # scale-out: offered as fast as possible
    python bench/e2e.py --naive 400                       # also the naive baseline on 400 articles
    python bench/e2e.py --core 1000,10000,100000          # core cost per article vs stories held
    python bench/e2e.py --core 1000 --history 0,20000,60000   # ...vs the stream's history before

A generator produces a live-like stream into ``articles.raw`` at a fixed rate: many concurrent
stories with long-tailed sizes (Pareto; most stories one to five articles, a few hundreds),
wire copies with site chrome (duplicates) and wire copies with an outlet's own paragraphs added
(syndication), articles of 4-9 paragraphs. Stories belong to sections (8), and the workers run
with ``STORYSTREAM_PARTITION_BY=section`` so dedup and clustering can spread over workers. A
consumer reads ``stories.updates`` and, per article, takes the time from its produce to the
first story version that includes it (both clocks are this machine's). Reported: the offered and
sustained rates, latency percentiles over the measured window (after a warm-up), the CPU and
peak memory of each process (workers, broker, helpers by stage), and the latency split by
stage: when each article first appeared in ``articles.prepared`` and ``stories.assignments``
(the CreateTime a worker stamps), read from those topics after the measured window. Each
agent's batches in the window come from the workers' ``/metrics`` (``storystream_batch_*``):
how many, how many messages each held, and how long each one's oldest message had waited
when the agent took it up, so a run says which stage a queue formed before and whether that
stage's batches filled.

``--preload N`` first puts N one-article stories into the state (not measured), so the run shows
per-article cost with N stories held. ``--warmup S`` (180) then sends S seconds of other stories
at the same rate, not measured either: the broker started for the run compiles its hot paths in
its first minutes, CPU a deployed broker spent long ago (its JIT's CPU in the measured window is
reported beside the broker's: 0.03-0.04 of a core at 300 articles/s after 60 s of warm-up, a
quarter of the broker's CPU; 0.01-0.02 after 180 s).
``--steady N`` starts the measured window N articles into its own stream instead. Otherwise the
window's stories start empty (300 new ones) and grow through it, and with them the work an
article (offline, the summary work rose for the stream's first 60,000 articles or so), so a
window measures a stream that is still starting. The N articles go first, as fast as the
worker takes them, and the warm-up is the last ``--warmup`` seconds of them, at the rate.
``--naive K`` runs the naive pipeline offline on the first K articles of the same stream:
brute-force similarity against every story (no index), and sumy LexRank over the whole story on
every update; its articles/s is compared with ours.
``--core`` runs under the allocator the helpers that hold the stories run with (mimalloc on
transparent huge pages, ``agents.runtime``; ``--allocator python`` for CPython's own).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import astuple, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agents.demo import start_worker, stop_worker, wait_until_consuming  # noqa: E402
from agents.feeds import make_consumer, make_producer  # noqa: E402
from agents.runtime import ALLOCATORS, allocator_in_use, run_under_mimalloc  # noqa: E402
from agents.settings import Settings  # noqa: E402
from bench.kafka_env import (  # noqa: E402
    broker,
    cpu_model,
    cpu_seconds,
    descendants,
    environment,
    helper_stage,
    interpreter,
    jit_cpu_seconds,
    loop_cpu_seconds,
    peak_rss_mb,
    queued_seconds,
    stolen_seconds,
)
from bench.synth import article_paragraphs, make_event, make_topic, title  # noqa: E402
from stream.bundles import values_of  # noqa: E402
from stream.models import DeadLetter, PreparedArticle  # noqa: E402

START = datetime(2026, 10, 1, tzinfo=UTC)
SECTIONS = ["world", "business", "sport", "politics", "science", "culture", "local", "tech"]
CHROME = "Skip to main content\n\n{}\n\nSign up for our newsletter\n\nShare this article"
WARMUP_SHARE = 0.1


def live_stream(
    count: int, seed: int = 8, active_stories: int = 300, prefix: str = "x", start: datetime = START
) -> list[dict[str, object]]:
    """Articles in publication order from ``start``; event time advances 20 s an article."""
    rng = random.Random(seed)
    topics = [make_topic(rng) for _ in range(400)]
    active: list[dict[str, object]] = []
    out: list[dict[str, object]] = []
    for i in range(count):
        when = start + timedelta(seconds=20 * i)
        if len(active) < active_stories or rng.random() < 0.2:
            event = make_event(rng, rng.choice(topics), when, event_id=f"e{i}")
            size = min(400, int(rng.paretovariate(1.1)))
            active.append(
                {"event": event, "left": size, "section": rng.choice(SECTIONS), "wire": None}
            )
        story = rng.choice(active)
        event = story["event"]
        wire = story["wire"]
        roll = rng.random()
        if wire is not None and roll < 0.12:
            body = CHROME.format("\n\n".join(wire))  # a republished wire copy
        elif wire is not None and roll < 0.2:
            extra = article_paragraphs(rng, event, paragraphs=rng.randint(1, 2))
            body = "\n\n".join([*wire, *extra])  # syndicated, with the outlet's own paragraphs
        else:
            paragraphs = article_paragraphs(rng, event)
            if wire is None:
                story["wire"] = paragraphs
            body = "\n\n".join(paragraphs)
        out.append(
            {
                "id": f"{prefix}{i}",
                "source": f"Outlet {rng.randrange(60)}",
                "title": title(rng, event),
                "body": body,
                "published_at": when.isoformat(),
                "language": "en",
                "section": story["section"],
            }
        )
        story["left"] = int(story["left"]) - 1  # type: ignore[call-overload]
        if int(story["left"]) <= 0:  # type: ignore[call-overload]
            active.remove(story)
    return out


def preload_stream(count: int, seed: int = 9) -> list[dict[str, object]]:
    """One article per event: ``count`` stories in state before the measured run."""
    rng = random.Random(seed)
    out = []
    for i in range(count):
        event = make_event(rng, None, START, event_id=f"p{i}")
        out.append(
            {
                "id": f"p{i}",
                "source": "Outlet",
                "title": title(rng, event),
                "body": "\n\n".join(article_paragraphs(rng, event, paragraphs=3)),
                "published_at": START.isoformat(),
                "language": "en",
                "section": SECTIONS[i % len(SECTIONS)],
            }
        )
    return out


def warm_stream(count: int) -> list[dict[str, object]]:
    """Other stories, just before the measured stream's event time: a warm-up, not measured.

    A broker started for the run spends its first minutes compiling its hot paths (half of its
    CPU in a one-minute run); a deployed one has long done that. The worker's caches warm too.
    """
    return live_stream(count, seed=10, prefix="w", start=START - timedelta(seconds=20 * count))


SEND_TICK = 0.01
"""Seconds between the generator's sends at most (it sends every article due by then)."""

LOAD_NICENESS = 10
"""Niceness of the load generator's threads (the producer and the update consumer): the target
is a machine whose cores the broker and the worker share; the generator stands in for the
newsroom's ingest and for downstream readers, which run elsewhere. It takes what is left of
the two cores and its CPU is reported beside theirs (``--load-nice 0`` gives it equal rank)."""


def as_load(niceness: int, target: Callable[..., object], *args: object) -> threading.Thread:
    """Start ``target(*args)`` in a thread at ``niceness`` (Linux: niceness is per thread)."""

    def run() -> None:
        if niceness:
            os.nice(niceness)
        target(*args)

    thread = threading.Thread(target=run)
    thread.start()
    return thread


@dataclass
class Clock:
    """Produce times by article id, and the first update time of each article."""

    sent: dict[str, float] = field(default_factory=dict)
    seen: dict[str, float] = field(default_factory=dict)
    refused: dict[str, str] = field(default_factory=dict)  # article id -> dead letter's reason


def produce(
    bootstrap: str, topic: str, items: list[dict[str, object]], rate: float, clock: Clock | None
) -> float:
    """Send ``items`` at ``rate`` per second (0: as fast as possible); returns elapsed seconds."""
    producer = make_producer(bootstrap)
    payloads = [(str(a["id"]), json.dumps(a).encode()) for a in items]
    started = time.perf_counter()
    try:
        for n, (ident, payload) in enumerate(payloads):
            if rate > 0:
                due = started + n / rate
                delay = due - time.perf_counter()
                if delay > 0:
                    # Wake at most every SEND_TICK and send all that is due by then, not once
                    # an article: each wake-up is CPU taken from the cores the measured system
                    # runs on (with article_ids_of: 0.13 -> 0.11 cores at 200 articles/s).
                    time.sleep(max(delay, SEND_TICK))
            if clock is not None:
                clock.sent[ident] = time.time()
            producer.send(topic, key=ident.encode(), value=payload)
        producer.flush()
    finally:
        producer.close()
    return time.perf_counter() - started


def article_ids_of(update: bytes) -> list[str]:
    """The ``article_ids`` of a StoryUpdate's JSON, parsing that list alone.

    A version carries its whole story (sentences, sources, maps of copies); this reader runs on
    the cores of the system it measures, and needs one list of it.
    The story's own list is the last key of that name (each sentence has one before it; a
    quote inside a string is escaped), and ids hold no bracket (they are this generator's).
    """
    start = update.rfind(b'"article_ids":[')
    if start < 0:
        return list(json.loads(update)["article_ids"])  # not pydantic's compact form
    start += len(b'"article_ids":')
    ids: list[str] = json.loads(update[start : update.index(b"]", start) + 1])
    return ids


def watch_updates(bootstrap: str, topic: str, clock: Clock, stop: threading.Event) -> None:
    """Record, per article, the time of the first story version that includes it."""
    # Fetching in larger, later batches costs the broker fewer requests and changes no figure:
    # an update's time is its CreateTime, stamped by the worker that sent it.
    consumer = make_consumer(
        bootstrap, topic, from_beginning=False, fetch_min_bytes=262_144, fetch_max_wait_ms=200
    )
    try:
        while not stop.is_set():
            for records in consumer.poll(timeout_ms=200, max_records=2000).values():
                for record in records:
                    made = record.timestamp / 1000  # CreateTime: when the worker sent it
                    for ident in article_ids_of(record.value):
                        if ident not in clock.seen:
                            clock.seen[ident] = made
    finally:
        consumer.close()


def watch_dead_letters(bootstrap: str, topic: str, clock: Clock, stop: threading.Event) -> None:
    """Record the articles the worker refused: accounted for, with the reason, not lost."""
    consumer = make_consumer(bootstrap, topic, from_beginning=False)
    try:
        while not stop.is_set():
            for records in consumer.poll(timeout_ms=200).values():
                for record in records:
                    letter = DeadLetter.model_validate_json(record.value)
                    try:
                        ident = str(json.loads(letter.original())["id"])
                    except (ValueError, KeyError, TypeError):
                        ident = f"unreadable@{record.offset}"
                    clock.refused[ident] = letter.reason
    finally:
        consumer.close()


def first_times(
    bootstrap: str, topic: str, article_ids: Callable[[bytes], list[str]], wanted: set[str]
) -> dict[str, float]:
    """When each wanted article first appeared in ``topic`` (its message's CreateTime, s).

    Read after the measured window, from the start of the topic: a worker stamps a message
    when it hands it to its producer, so the times tell how long each stage held an article.
    """
    consumer = make_consumer(bootstrap, topic, fetch_max_bytes=52_428_800)
    times: dict[str, float] = {}
    try:
        for record in consumer:  # ends once nothing arrived for consumer_timeout_ms
            for ident in article_ids(record.value):
                if ident in wanted and ident not in times:
                    times[ident] = record.timestamp / 1000
    finally:
        consumer.close()
    return times


def prepared_ids(value: bytes) -> list[str]:
    """The article ids of an ``articles.prepared`` message (a bundle of a batch's articles)."""
    return [str(json.loads(line).get("id")) for line in values_of(value)]


def assigned_ids(value: bytes) -> list[str]:
    """The article ids of the ``article`` commands in a ``stories.assignments`` message."""
    articles = (json.loads(line).get("article") for line in values_of(value))
    return [str(article["id"]) for article in articles if article]


HOPS = ("ingest -> prepared", "prepared -> assigned", "assigned -> update")
"""The stages an article's latency is split into, by the topics between them."""
HOP_ENDS = ("prepared", "assigned", "update")
"""Where each stage ends: the columns of a ``--trace`` file after the produce time."""


def hop_latencies(
    clock: Clock, prepared: dict[str, float], assigned: dict[str, float], ids: list[str]
) -> dict[str, list[float]]:
    """Seconds each measured article spent in each stage (produce -> topic -> topic -> update)."""
    hops: dict[str, list[float]] = {hop: [] for hop in HOPS}
    for ident in ids:
        marks = [
            clock.sent.get(ident),
            prepared.get(ident),
            assigned.get(ident),
            clock.seen.get(ident),
        ]
        if any(mark is None for mark in marks):
            continue  # refused (a dead letter), or never delivered
        for hop, start, end in zip(HOPS, marks, marks[1:], strict=False):
            hops[hop].append(float(end) - float(start))  # type: ignore[arg-type]
    return hops


@dataclass
class RunResult:
    workers: int
    offered: float
    sustained: float
    p50: float
    p95: float
    p99: float
    completed: int  # articles in a story version
    refused: int  # articles the worker sent to the dead-letter topic
    produced: int
    worker_cpu: list[float]
    worker_loop_cpu: list[float]  # of which each worker's main thread (its event loop)
    worker_rss: list[float]
    helper_cpu: dict[str, float]  # CPU seconds of all workers' helpers, by stage
    helper_rss: list[float]
    broker_cpu: float | None
    broker_jit: float | None  # of which its JIT compiler threads
    broker_rss: float | None
    seconds: float
    load_cpu: float  # this process: the generator's producer and update consumer
    stolen: float = 0.0  # CPU seconds the hypervisor took for other tenants meanwhile
    allocator: str = "python"  # the workers' (agents.runtime.allocator_in_use)
    queued: dict[str, float] = field(default_factory=dict)
    """Seconds each kind of process was ready to run but waited for a core (``QUEUED_ORDER``)."""
    batches: dict[str, BatchFigures] = field(default_factory=dict)
    """Each agent's batches in the window, all workers (from their ``/metrics``)."""
    # Per-article figures: kept out of the repr that reports each run's end on stderr.
    hops: dict[str, list[float]] = field(default_factory=dict, repr=False)  # seconds per stage
    timeline: list[tuple[float, float, float, int]] = field(default_factory=list, repr=False)


@dataclass(frozen=True)
class BatchFigures:
    """An agent's batches over a span: the worker's ``storystream_batch_*`` histograms."""

    batches: int
    messages: float
    waited: float
    """Sum over batches of how long each one's oldest message had waited when taken up."""
    over_second: int
    """Batches whose oldest message had waited more than a second."""
    versions: float = 0.0
    """Story versions published: summarise's (0 for the other agents)."""

    def __add__(self, other: BatchFigures) -> BatchFigures:
        return BatchFigures(*(a + b for a, b in zip(astuple(self), astuple(other), strict=True)))

    def __sub__(self, other: BatchFigures) -> BatchFigures:
        return BatchFigures(*(a - b for a, b in zip(astuple(self), astuple(other), strict=True)))


BATCH_AGENTS = ("prepare", "cluster", "summarise")
NO_BATCHES = BatchFigures(0, 0.0, 0.0, 0, 0.0)


def batch_figures(exposition: str) -> dict[str, BatchFigures]:
    """Each agent's batch figures so far, from a worker's ``/metrics`` text."""
    from prometheus_client.parser import text_string_to_metric_families

    values: dict[tuple[str, str, str | None], float] = {}
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            agent = sample.labels.get("agent")
            if agent in BATCH_AGENTS and sample.name.startswith("storystream_batch_"):
                values[(sample.name, agent, sample.labels.get("le"))] = sample.value
            elif sample.name == "storystream_story_versions_total":
                values[(sample.name, "summarise", None)] = sample.value
    figures = {}
    for agent in BATCH_AGENTS:
        waits = values.get(("storystream_batch_wait_seconds_count", agent, None), 0.0)
        within = values.get(("storystream_batch_wait_seconds_bucket", agent, "1.0"), waits)
        figures[agent] = BatchFigures(
            batches=int(values.get(("storystream_batch_messages_count", agent, None), 0.0)),
            messages=values.get(("storystream_batch_messages_sum", agent, None), 0.0),
            waited=values.get(("storystream_batch_wait_seconds_sum", agent, None), 0.0),
            over_second=int(waits - within),
            versions=values.get(("storystream_story_versions_total", agent, None), 0.0),
        )
    return figures


def workers_batch_figures(ports: list[int]) -> dict[str, BatchFigures]:
    """:func:`batch_figures` summed over the workers serving ``ports`` (none if unreachable)."""
    import urllib.request

    total = dict.fromkeys(BATCH_AGENTS, NO_BATCHES)
    for port in ports:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as got:
                text = got.read().decode()
        except OSError as error:
            print(f"worker metrics on port {port} unreadable: {error}", file=sys.stderr)
            continue
        for agent, figures in batch_figures(text).items():
            total[agent] += figures
    return total


QUEUED_ORDER = ("worker", "cluster", "prepare", "summary", "broker", "load")
"""The processes whose wait for a core a run reports, in its table's order."""


def queued_by_kind(worker_pids: list[int], broker_pid: int | None) -> dict[str, float]:
    """Seconds of waiting for a core so far (:func:`queued_seconds`), summed by kind of process.

    Workers, their helpers by stage, the broker and this process (the load generator).
    """
    waited = dict.fromkeys(QUEUED_ORDER, 0.0)
    for pid in worker_pids:
        waited["worker"] += queued_seconds(pid)
        for helper in descendants(pid):
            stage = helper_stage(helper)
            if stage in waited:
                waited[stage] += queued_seconds(helper)
    if broker_pid:
        waited["broker"] = queued_seconds(broker_pid)
    waited["load"] = queued_seconds(os.getpid())
    return waited


TIMELINE_SLICES = 6
"""Parts of the measured window whose latency is reported apart (by when articles were sent)."""


def timeline(
    sent: dict[str, float], seen: dict[str, float], ids: list[str], slices: int = TIMELINE_SLICES
) -> list[tuple[float, float, float, int]]:
    """(seconds into the window, p50, p95, articles) for each slice of ``ids`` in send order.

    A rate the system sustains gives the same latency in every slice; one it does not, a
    latency that climbs from slice to slice (a backlog that grows), which the window's
    percentiles alone do not show.
    """
    delivered = sorted((sent[i], seen[i] - sent[i]) for i in ids if i in sent and i in seen)
    if not delivered:
        return []
    start = delivered[0][0]
    size = max(1, -(-len(delivered) // slices))
    rows = []
    for first in range(0, len(delivered), size):
        part = delivered[first : first + size]
        spans = [span for _, span in part]
        rows.append(
            (part[0][0] - start, percentile(spans, 0.5), percentile(spans, 0.95), len(part))
        )
    return rows


def rate_between(times: Iterable[float]) -> float:
    """Events a second from the first of ``times`` to the last: (count - 1) / span.

    The window's rates are measured so. Offered: from the first send to the last, which is the
    pace itself (300.0 at 300/s). Sustained: from the first delivery to the last, which a run
    that keeps up delivers at the pace it is offered, its latency on both ends; one that falls
    behind ends later, by the queue it built. Until session 32 both were counted from the
    moment the load generator was started, before its producer had connected, and sustained
    to the last delivery: a run that kept up at 300/s read 299 offered and 298 sustained.
    """
    ordered = sorted(times)
    span = ordered[-1] - ordered[0] if len(ordered) > 1 else 0.0
    return (len(ordered) - 1) / span if span > 0 else float("nan")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


def streams_of_run(
    count: int, paced: int, steady: int = 0
) -> tuple[list[dict[str, object]], list[dict[str, object]], list[dict[str, object]]]:
    """What a run sends, in order: a backlog (as fast as it is taken), a warm-up of ``paced``
    articles at the rate, and the ``count`` measured articles.

    With ``steady``, the backlog and the warm-up are the measured stream's first ``steady``
    articles (at least ``paced``), so the window finds its stories grown (``--steady``);
    without, there is no backlog and the warm-up is other stories (:func:`warm_stream`).
    """
    if not steady:
        return [], warm_stream(paced) if paced else [], live_stream(count)
    past = max(steady, paced)
    stream = live_stream(past + count)
    return stream[: past - paced], stream[past - paced : past], stream[past:]


def run(
    bootstrap: str,
    broker_pid: int | None,
    workers: int,
    rate: float,
    seconds: float,
    preload: int,
    debounce: float,
    helpers: int = 1,
    load_nice: int = LOAD_NICENESS,
    warmup: float = 0.0,
    trace: Path | None = None,
    steady: int = 0,
) -> RunResult:
    count = int(rate * seconds) if rate > 0 else int(seconds * 600)
    paced = int((rate if rate > 0 else 300) * warmup) if warmup > 0 else 0
    backlog, warming, items = streams_of_run(count, paced, steady)
    env, settings = environment(
        bootstrap,
        STORYSTREAM_PARTITIONS="4",
        STORYSTREAM_PARTITION_BY="section",
        STORYSTREAM_DEBOUNCE_SECONDS=str(debounce),
        STORYSTREAM_PREPARE_PROCESSES=str(helpers),
    )
    processes, ports = [], []
    for _ in range(workers):
        from agents.broker import free_port

        port = free_port()
        ports.append(port)
        processes.append(start_worker(settings, {**env, "STORYSTREAM_WEB_PORT": str(port)}))
    stop = threading.Event()  # set in the finally below: the watchers must end on any exit
    try:
        assert wait_until_consuming(settings.bootstrap_servers, settings.app_id, timeout=180)
        time.sleep(3 * workers)  # let rebalances settle before measuring
        clock = Clock()
        watchers = [
            as_load(load_nice, watch, bootstrap, settings.topics[topic], clock, stop)
            for watch, topic in [(watch_updates, "updates"), (watch_dead_letters, "dlq")]
        ]
        # Unmeasured phases: stories to hold and the stream's past (as fast as possible),
        # then a warm-up at the rate.
        unmeasured = 0
        for before, pace in [
            (preload_stream(preload) if preload else [], 0.0),
            (backlog, 0.0),
            (warming, rate),
        ]:
            if not before:
                continue
            produce(bootstrap, settings.topics["raw"], before, pace, clock)
            unmeasured += len(before)
            deadline = time.monotonic() + max(900, len(before) / 100)
            while len(clock.seen) + len(clock.refused) < unmeasured and (
                time.monotonic() < deadline
            ):
                time.sleep(1)
        cpu0 = [cpu_seconds(p.pid) for p in processes]
        loop0 = [loop_cpu_seconds(p.pid) for p in processes]
        helper_pids = [h for p in processes for h in descendants(p.pid)]
        helper_cpu0 = {h: cpu_seconds(h) for h in helper_pids}
        broker_cpu0 = cpu_seconds(broker_pid) if broker_pid else None
        broker_jit0 = jit_cpu_seconds(broker_pid) if broker_pid else 0.0
        load_cpu0 = cpu_seconds(os.getpid())
        stolen0 = stolen_seconds()
        queued0 = queued_by_kind([p.pid for p in processes], broker_pid)
        batches0 = workers_batch_figures(ports)
        started = time.time()
        as_load(load_nice, produce, bootstrap, settings.topics["raw"], items, rate, clock).join()
        ids = [str(a["id"]) for a in items]
        deadline = time.monotonic() + max(120.0, seconds)
        while (
            time.monotonic() < deadline
            and sum(i in clock.seen or i in clock.refused for i in ids[-200:]) < 200
        ):
            time.sleep(0.5)
        time.sleep(2)
        elapsed = max(clock.seen.get(i, 0.0) for i in ids) - started
        cpu = [cpu_seconds(p.pid) - c for p, c in zip(processes, cpu0, strict=True)]
        loop = [loop_cpu_seconds(p.pid) - c for p, c in zip(processes, loop0, strict=True)]
        helper_cpu: dict[str, float] = {}
        for h in [h for p in processes for h in descendants(p.pid)]:
            stage = helper_stage(h)
            if stage is None:  # multiprocessing's resource tracker
                continue
            used = cpu_seconds(h) - helper_cpu0.get(h, 0.0)
            helper_cpu[stage] = helper_cpu.get(stage, 0.0) + used
        broker_cpu = cpu_seconds(broker_pid) - broker_cpu0 if broker_pid and broker_cpu0 else None
        broker_jit = jit_cpu_seconds(broker_pid) - broker_jit0 if broker_pid else None
        load_cpu = cpu_seconds(os.getpid()) - load_cpu0
        stolen = stolen_seconds() - stolen0
        queued_now = queued_by_kind([p.pid for p in processes], broker_pid)
        queued = {kind: queued_now[kind] - queued0[kind] for kind in QUEUED_ORDER}
        batches_now = workers_batch_figures(ports)
        batches = {agent: batches_now[agent] - batches0[agent] for agent in BATCH_AGENTS}
        stop.set()
        for watcher in watchers:
            watcher.join()
        measured = ids[int(len(ids) * WARMUP_SHARE) :]
        wanted = set(measured)
        prepared = first_times(bootstrap, settings.topics["prepared"], prepared_ids, wanted)
        assigned = first_times(bootstrap, settings.topics["assignments"], assigned_ids, wanted)
        hops = hop_latencies(clock, prepared, assigned, measured)
        if trace is not None:  # each article's times, to see when a tail happened
            marks = [clock.sent, prepared, assigned, clock.seen]
            rows = [[ident, *(times.get(ident) for times in marks)] for ident in measured]
            trace.write_text(json.dumps({"columns": ["id", "sent", *HOP_ENDS], "rows": rows}))
    finally:
        stop.set()
        allocator = "/".join(sorted({allocator_in_use(p.pid) for p in processes}))
        rss = [peak_rss_mb(p.pid) for p in processes]
        helper_rss = [sum(peak_rss_mb(h) for h in descendants(p.pid)) for p in processes]
        for process in processes:
            stop_worker(process)
    latencies = [clock.seen[i] - clock.sent[i] for i in measured if i in clock.seen]
    completed = sum(1 for i in ids if i in clock.seen)
    refused = sum(1 for i in ids if i in clock.refused)
    for reason in sorted({clock.refused[i] for i in ids if i in clock.refused}):
        print(f"dead letters: {reason}", file=sys.stderr)
    return RunResult(
        workers=workers,
        offered=rate_between(clock.sent[i] for i in ids),
        sustained=rate_between(clock.seen[i] for i in ids if i in clock.seen),
        p50=percentile(latencies, 0.5),
        p95=percentile(latencies, 0.95),
        p99=percentile(latencies, 0.99),
        completed=completed,
        refused=refused,
        produced=len(ids),
        worker_cpu=cpu,
        worker_loop_cpu=loop,
        worker_rss=rss,
        helper_cpu=helper_cpu,
        helper_rss=helper_rss,
        broker_cpu=broker_cpu,
        broker_jit=broker_jit,
        broker_rss=peak_rss_mb(broker_pid) if broker_pid else None,
        seconds=elapsed,
        load_cpu=load_cpu,
        hops=hops,
        timeline=timeline(clock.sent, clock.seen, measured),
        stolen=stolen,
        allocator=allocator,
        queued=queued,
        batches=batches,
    )


def naive_rate(count: int) -> tuple[float, float]:
    """(naive articles/s, ours articles/s) offline on the first ``count`` articles of the stream.

    Naive: every article is compared with every story (TF-IDF centroids, brute force) and the
    story it joins is re-summarised from scratch with sumy LexRank over all its sentences.
    Ours: the same core the agents run (tracker step, story state, render), without Kafka.
    """
    from bench.cluster_eval import CentroidBaseline
    from bench.summary_eval import baseline as lexrank_summary
    from stream.features import analyse
    from stream.prepare import parse_article
    from stream.story import StoryState
    from stream.summarize import SummaryConfig
    from stream.tracker import StoryTracker

    items = live_stream(count)
    prepared = [parse_article(json.dumps(a).encode()) for a in items]
    naive_clusters = CentroidBaseline(threshold=0.2)
    members: dict[int, list[PreparedArticle]] = {}
    started = time.perf_counter()
    for article in prepared:
        story = naive_clusters.place(analyse(article))
        members.setdefault(story, []).append(article)
        lexrank_summary(members[story], "sumy-lexrank")
    naive = count / (time.perf_counter() - started)

    tracker = StoryTracker()
    states: dict[str, StoryState] = {}
    config = SummaryConfig()
    started = time.perf_counter()
    for article in prepared:
        placed = tracker.step(article)
        state = states.setdefault(placed.story_id, StoryState(story_id=placed.story_id))
        state.add(article, placed.dedup.of, placed.dedup.kind)
        state.render(datetime.now(UTC), config)
    ours = count / (time.perf_counter() - started)
    return naive, ours


CORE_BATCH = 100
"""Articles between the collector's after-batch steps in ``--core`` (the helpers' batches)."""


REFERENCE_PROBES = 1000
"""Articles of the machine's reference figure (``core_cost(1000)``) printed with every run."""


CORE_STAGES = ("parse", "cluster", "summary")
"""How far ``core_cost`` takes each article: parsed, then placed, then summarised (the core)."""


def core_cost(
    stories: int,
    probes: int = 2000,
    *,
    upto: str = "summary",
    run: bool = True,
    history: int = 0,
) -> float:
    """Milliseconds per article of the whole core with ``stories`` stories already held.

    ``history``: articles of the stream's own kind that came before (:func:`warm_stream`),
    run through the same core first: stories that grew to hundreds of articles, wire copies
    in the dedup window, stories still live for the clusterer. Preloaded stories alone (one
    article each, on other events) do not load those.

    The core is what a worker runs per article, without Kafka: parse and clean, dedup and
    clustering (tracker step), the story's fact pool and a new version (render). ``upto`` stops
    each article after an earlier stage; ``run=False`` does all the setup and no article, for
    ``bench/instructions.py``, which counts a run's instructions less those of its setup.
    """
    from agents.runtime import keep_survivors, tune_garbage_collector
    from stream.prepare import parse_article
    from stream.story import StoryState
    from stream.summarize import SummaryConfig
    from stream.tracker import StoryTracker

    if upto not in CORE_STAGES:
        raise ValueError(f"upto must be one of {CORE_STAGES}, not {upto!r}")
    # The collector as the helpers that run this work set it: tuned at start, and after each
    # batch the batch's garbage collected and the survivors frozen (agents/runtime.py).
    tune_garbage_collector()
    tracker = StoryTracker()
    states: dict[str, StoryState] = {}
    config = SummaryConfig()
    now = datetime.now(UTC)
    # In time order: the history ends where the preloaded stories and the probes begin. The
    # history is summarised as it comes, as the worker does; the preloaded stories are not.
    items = [(item, True) for item in warm_stream(history)]
    items += [(item, False) for item in preload_stream(stories)]
    for done, (item, render) in enumerate(items, start=1):
        article = parse_article(json.dumps(item).encode())
        placed = tracker.step(article)
        state = states.setdefault(placed.story_id, StoryState(story_id=placed.story_id))
        state.add(article, placed.dedup.of, placed.dedup.kind)
        if render:
            state.render(now, config)
        if done % CORE_BATCH == 0:
            keep_survivors()
    payloads = [json.dumps(item).encode() for item in live_stream(probes)]
    # Start from a collected heap: otherwise whether one full collection of the whole preloaded
    # state (seconds at 100k stories) lands inside the window decides the figure (measured:
    # 2.7 vs 6.7 ms an article at 100k stories before the helpers froze their state).
    gc.collect()
    keep_survivors()
    if not run:
        return 0.0
    started = time.perf_counter()
    for done, payload in enumerate(payloads, start=1):
        article = parse_article(payload)
        if upto != "parse":
            placed = tracker.step(article)
            if upto == "summary":
                state = states.setdefault(placed.story_id, StoryState(story_id=placed.story_id))
                state.add(article, placed.dedup.of, placed.dedup.kind)
                state.render(now, config)
        if done % CORE_BATCH == 0:
            keep_survivors()
    return 1000 * (time.perf_counter() - started) / probes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", default="1", help="comma-separated worker counts")
    parser.add_argument("--rate", type=float, default=300, help="articles/s offered (0 = max)")
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--preload", type=int, default=1000)
    parser.add_argument(
        "--debounce",
        type=float,
        default=Settings.model_fields["debounce_seconds"].default,
        help="the summary batch window (default: the worker's)",
    )
    parser.add_argument(
        "--warmup",
        type=float,
        default=180,
        help="seconds of other stories at the same rate first (not measured)",
    )
    parser.add_argument(
        "--steady",
        type=int,
        default=0,
        help="articles of the measured stream's own past sent first (not measured), "
        "e.g. 90000: the window then measures its stories grown, not starting",
    )
    parser.add_argument(
        "--helpers",
        type=int,
        default=1,
        help="prepare helper processes per worker (0: prepare in the worker)",
    )
    parser.add_argument(
        "--load-nice",
        type=int,
        default=LOAD_NICENESS,
        help="niceness of the load generator's threads (0: same as the service)",
    )
    parser.add_argument(
        "--trace", default="", help="write each measured article's times to TRACE.<workers>.json"
    )
    parser.add_argument("--naive", type=int, default=0, help="articles for the naive baseline")
    parser.add_argument("--core", default="", help="stories held, e.g. 1000,100000: core cost only")
    parser.add_argument(
        "--history",
        default="0",
        help="with --core: articles of stream history first, e.g. 0,20000,60000",
    )
    parser.add_argument(
        "--allocator",
        choices=ALLOCATORS,
        default="mimalloc",
        help="with --core: the helpers' allocator (mimalloc on huge pages), or Python's own",
    )
    args = parser.parse_args()
    if args.core:
        if args.allocator == "mimalloc":
            # As the helpers that hold the stories run: 100k stories held are a heap of a few
            # GB, and on 4 kB pages the misses of the address translation grew with it (machine
            # C: 2.82 -> 4.06 ms from 1k to 100k stories, against 2.83-2.94 -> 3.35-3.45).
            run_under_mimalloc()
        print(f"allocator: {allocator_in_use()}")
        print(
            "| stories held | articles of history | core ms per article "
            "| core articles/s (one core) |"
        )
        print("| --- | --- | --- | --- |")
        for held in [int(n) for n in args.core.split(",")]:
            for history in [int(n) for n in args.history.split(",")]:
                cost = core_cost(held, history=history)
                print(f"| {held:,} | {history:,} | {cost:.2f} | {1000 / cost:,.0f} |", flush=True)
        return
    # How fast this machine runs our core, measured before anything else starts: the tables
    # of two machines are comparable only through it.
    reference = core_cost(1000, probes=REFERENCE_PROBES)
    results = []
    with broker() as (bootstrap, broker_pid):
        for workers in [int(w) for w in args.workers.split(",")]:
            result = run(
                bootstrap,
                broker_pid,
                workers,
                args.rate,
                args.seconds,
                args.preload,
                args.debounce,
                args.helpers,
                args.load_nice,
                args.warmup,
                trace=Path(f"{args.trace}.{workers}.json") if args.trace else None,
                steady=args.steady,
            )
            results.append(result)
            print(f"done: {result}", file=sys.stderr, flush=True)
    past = f" ending {args.steady:,} articles of the same stream" if args.steady else ""
    print(
        f"\nstream: {results[0].produced:,} articles offered at "
        f"{'max' if args.rate <= 0 else f'{args.rate:g}/s'}, {args.preload:,} stories "
        f"preloaded, {args.warmup:g} s of warm-up{past}, debounce {args.debounce:g} s, "
        f"{args.helpers} prepare helper process(es) a worker, 4 partitions by section, "
        f"2 cores shared, load generator at nice {args.load_nice}, "
        f"worker allocator {results[0].allocator}"
    )
    print(
        f"machine: {cpu_model()}; {interpreter()}; core {reference:.2f} ms an article with "
        f"1,000 stories held (`--core 1000`, before the run)"
    )
    print(
        "\n| workers | offered art/s | sustained art/s | p50 s | p95 s | p99 s | completed | "
        "worker CPU (cores, of which its loop thread) | worker peak RSS MB | "
        "helper CPU (cores) by stage | helper peak RSS MB | broker CPU (cores) | "
        "broker peak RSS MB | "
        "load generator CPU (cores) | stolen by the host (cores) |"
    )
    print(
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- "
        "| --- |"
    )
    for r in results:
        cores = " + ".join(
            f"{c / r.seconds:.2f} (loop {loop / r.seconds:.2f})"
            for c, loop in zip(r.worker_cpu, r.worker_loop_cpu, strict=True)
        )
        rss = " + ".join(f"{m:,.0f}" for m in r.worker_rss)
        helper_cores = " + ".join(
            f"{stage} {c / r.seconds:.2f}" for stage, c in sorted(r.helper_cpu.items())
        )
        helper_rss = " + ".join(f"{m:,.0f}" for m in r.helper_rss)
        completed = f"{r.completed:,}/{r.produced:,}" + (
            f" (+{r.refused:,} dead letters)" if r.refused else ""
        )
        broker_cores = (
            f"{r.broker_cpu / r.seconds:.2f} (JIT {(r.broker_jit or 0.0) / r.seconds:.2f})"
            if r.broker_cpu is not None
            else "-"
        )
        broker_rss = f"{r.broker_rss:,.0f}" if r.broker_rss is not None else "-"
        print(
            f"| {r.workers} | {r.offered:,.0f} | {r.sustained:,.0f} | {r.p50:.2f} | "
            f"{r.p95:.2f} | {r.p99:.2f} | {completed} | {cores} | {rss} | "
            f"{helper_cores} | {helper_rss} | {broker_cores} | {broker_rss} | "
            f"{r.load_cpu / r.seconds:.2f} | {r.stolen / r.seconds:.2f} |"
        )
    print(
        "\n| workers | waiting for a core (cores): worker / cluster / prepare / summary / "
        "broker / load generator | all |"
    )
    print("| --- | --- | --- |")
    for r in results:
        waits = [r.queued.get(kind, 0.0) / r.seconds for kind in QUEUED_ORDER]
        shown = " / ".join(f"{w:.2f}" for w in waits)
        print(f"| {r.workers} | {shown} | {sum(waits):.2f} |")
    print("\n| workers | stage (topic to topic) | p50 s | p95 s | p99 s | articles |")
    print("| --- | --- | --- | --- | --- | --- |")
    for r in results:
        for hop in HOPS:
            spans = r.hops.get(hop, [])
            print(
                f"| {r.workers} | {hop} | {percentile(spans, 0.5):.2f} | "
                f"{percentile(spans, 0.95):.2f} | {percentile(spans, 0.99):.2f} | "
                f"{len(spans):,} |"
            )
    print(
        "\n| workers | agent | batches | messages a batch | oldest message's wait when taken "
        "up, mean s | batches whose oldest waited over 1 s | story versions a command |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for r in results:
        for agent, b in r.batches.items():
            if b.batches:
                print(
                    f"| {r.workers} | {agent} | {b.batches:,} | {b.messages / b.batches:.1f} | "
                    f"{b.waited / b.batches:.2f} | {b.over_second:,} | "
                    f"{f'{b.versions / b.messages:.3f}' if b.versions else ''} |"
                )
    print("\n| workers | sent from (s into the window) | p50 s | p95 s | articles |")
    print("| --- | --- | --- | --- | --- |")
    for r in results:
        for offset, p50, p95, count in r.timeline:
            print(f"| {r.workers} | {offset:.0f} | {p50:.2f} | {p95:.2f} | {count:,} |")
    if args.naive:
        naive, ours = naive_rate(args.naive)
        print(f"\n| pipeline, one core, no Kafka, first {args.naive:,} articles | articles/s |")
        print("| --- | --- |")
        print(
            f"| naive: brute-force similarity + sumy LexRank over the whole story | {naive:,.1f} |"
        )
        print(f"| storystream core (same stream) | {ours:,.1f} |")
        print(f"| **ratio** | **{ours / naive:,.0f}x** |")


if __name__ == "__main__":
    main()
