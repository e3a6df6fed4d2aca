"""The faust app: topics, tables and three thin agents wiring the pure core to Kafka.

    articles.raw --prepare--> articles.prepared (key: language) --cluster--> stories.assignments
    (key: story id) --summarise--> stories.updates (key: story id); bad input --> articles.dlq

- ``prepare`` validates, cleans and tokenises batches in helper processes
  (:mod:`agents.prepare_stage`); anything bad becomes a DeadLetter with the reason.
- ``cluster`` runs one :class:`~stream.tracker.StoryTracker` per partition key, in a helper
  process that places batches of articles (:mod:`agents.cluster_stage`); the agent writes the
  cluster log and sends the assignments each batch returns, while the helper already places the
  next batch. The log is a changelog-backed table of the articles placed (in arrival order): a
  tracker the helper lacks (a restarted or moved worker, a replaced helper) is rebuilt from it
  before the next article.
- ``summarise`` keeps one :class:`~stream.story.StoryState` per story in a changelog-backed table,
  coalesces bursts into batches (a ``debounce`` window, collected while the previous batch is
  worked on), and emits a version only on change. The work runs in helper processes that keep
  states parsed, each owning the stories whose id hashes to it (:mod:`agents.summary_stage`);
  the agent writes the states they return, and sends a batch's versions once the flush that
  makes those states durable is done, while the helpers already work on the next batch.
  The alert rules run there too, on each new version, with their memory in the story's state
  (``stories.alerts``): no second consumer of ``stories.updates`` and no second table write.
- Every worker also folds all of ``stories.updates`` into a :class:`~stream.views.StoryView` that
  its web pages serve (:mod:`agents.viewer`, :mod:`agents.web`).

Agents use ``concurrency=1``: with more, faust can commit an offset past an event still being
processed (an open faust bug), which would lose it in a crash. The batching agents take their
batches with ``noack_take`` and ack each event only once what it caused is in the producer
buffer.

Between stages a batch's messages for one partition travel as one (a bundle of JSON lines,
:mod:`stream.bundles`): one send and one event per partition and batch instead of one per
article on ``articles.prepared`` and one per command on ``stories.assignments``.

Table writes and the odd message (dead letters, alerts, hand-overs) go with ``send_soon``: the
message joins faust's producer buffer and the agent goes on; faust flushes that buffer before it
commits the offsets of the events that caused them (``Consumer._commit_tps``), so a crash loses
no message. A batch's bundles and versions, a few sends a batch, are handed to the producer
directly and sent at once (:mod:`agents.sending`), before their events are acked.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

import faust
from faust.streams import _current_event as current_event
from faust.types import EventT

from agents.cluster_stage import ClusterOptions, ClusterStage, Placing
from agents.metrics import Metrics
from agents.prefetch import event_batches
from agents.prepare_stage import PrepareOptions, PrepareStage, Refused
from agents.sending import flush_now, send_bundled, send_now
from agents.settings import Settings
from agents.summary_stage import BatchOutcome, SummaryOptions, SummaryShards
from agents.viewer import UpdatesFeed
from agents.web import LiveHub, register_web
from stream.bundles import keys_of, values_of
from stream.models import Assignment, DeadLetter, StoryUpdate, utc_now
from stream.story import StoryState
from stream.views import StoryView

log = logging.getLogger("storystream")

EVICTION_SWEEP_EVERY = 2_000
"""Commands between sweeps of the story table for stories past their retention."""

LIVE_STATES = 5_000
"""Parsed story states the summary work keeps between batches (the most recently used)."""

PRODUCER_BUFFER_MESSAGES = 2_000
"""Sends that may wait in faust's producer buffer before it holds back every agent's input.

faust's limit is 100: past it, each message delivered to a stream first waits for up to 100
sends (one ``wait_for`` each) and logs "producer buffer full". One batch of ours sends more
than that (a clustering batch of 200 articles: their commands and cluster-log entries; a
summary batch of up to 500 commands: as many states and versions), so under load the worker
logged hundreds of those warnings a minute and stopped its streams after every large batch.
The buffer stays bounded: by the batches, which are."""


def _json(model: Any) -> bytes:
    return str(model.model_dump_json()).encode()


def build_app(settings: Settings) -> faust.App:
    """Declare the app, its topics, tables and agents for the given settings."""
    app = faust.App(
        settings.app_id,
        broker=f"kafka://{settings.bootstrap_servers}",
        datadir=str(settings.state_dir / settings.app_id),
        store="memory://",
        topic_partitions=settings.partitions,
        topic_replication_factor=1,
        web_port=settings.web_port,
        web_host=settings.web_host,
        producer_max_request_size=8_388_608,
        # Batch sends: a worker produces about six messages an article (outputs and changelogs),
        # and one produce request per message cost more CPU than the agents' own work. 30 ms
        # rather than 5: at 130 articles/s the worker used 6 % and the broker 17 % less CPU
        # (bench/e2e.py, two runs side by side), for at most 30 ms more a hop.
        producer_linger_ms=settings.producer_linger_ms,
        producer_max_batch_size=1_048_576,
        consumer_auto_offset_reset="earliest",
        stream_wait_empty=False,
    )
    app.producer.buffer.max_messages = PRODUCER_BUFFER_MESSAGES
    names = settings.topics
    raw = app.topic(
        names["raw"], key_type=bytes, value_type=bytes, value_serializer="raw", key_serializer="raw"
    )
    dlq = app.topic(names["dlq"], value_serializer="raw", key_serializer="raw")
    prepared = app.topic(names["prepared"], value_serializer="raw", key_serializer="raw")
    assignments = app.topic(names["assignments"], value_serializer="raw", key_serializer="raw")
    updates = app.topic(names["updates"], value_serializer="raw", key_serializer="raw")
    alerts = app.topic(names["alerts"], value_serializer="raw", key_serializer="raw")

    # Keys and values are str (JSON text of our pydantic models); faust's json codec stores them.
    placed_log = app.Table(
        "cluster-log",
        default=None,
        key_type=str,
        value_type=str,
        partitions=settings.partitions,
    )

    # Story id -> the story's packed state (StoryState.pack); bytes are stored raw.
    stories = app.Table(
        "stories",
        default=None,
        key_type=str,
        value_type=bytes,
        partitions=settings.partitions,
        use_partitioner=True,
    )
    metrics = Metrics()
    view = StoryView(retention=timedelta(days=settings.story_retention_days))
    hub = LiveHub(view)

    def deliver(batch: list[StoryUpdate]) -> None:
        """Fold updates read by the feed thread into the view (on the loop's thread)."""
        for update in batch:
            change = view.apply(update)
            if change is not None:
                hub.publish(update.story_id, change)
        if view_sweeps.tick(len(batch)):
            view.evict()

    view_sweeps = _Every(EVICTION_SWEEP_EVERY)
    feed = UpdatesFeed(
        settings,
        deliver,
        lag_topics=[names["raw"], names["prepared"], names["assignments"], names["updates"]],
    )

    @app.task  # type: ignore[untyped-decorator]
    async def start_feed() -> None:
        feed.start(asyncio.get_running_loop())

    def agents_running() -> bool:
        return bool(app.agents) and all(
            agent.started and not agent.crashed for agent in app.agents.values()
        )

    register_web(
        app,
        view,
        hub,
        metrics,
        feed_status=lambda: feed.status,
        agents_running=agents_running,
        ready_max_lag=settings.ready_max_lag,
    )

    stage = PrepareStage(
        PrepareOptions(
            max_bytes=settings.max_message_bytes,
            default_source=settings.default_source,
            partition_by=settings.partition_by,
        ),
        settings.prepare_processes,
    )

    @app.agent(raw, concurrency=1)
    async def prepare(stream: faust.StreamT[bytes]) -> None:
        prepared_partitions = await partition_count(app, prepared.get_topic_name())
        # take_events is on faust's Stream, not on the StreamT protocol agents are typed with.
        batches = cast(faust.Stream[bytes], stream).take_events(
            settings.prepare_max_batch, within=settings.prepare_batch_seconds
        )
        async for events in batches:
            payloads = [e.value if isinstance(e.value, bytes) else b"" for e in events]
            metrics.articles.labels(agent="prepare", direction="in").inc(len(events))
            metrics.took_batch("prepare", len(events), (e.message.timestamp for e in events))
            # Not counted as busy: with helper processes the loop runs other agents meanwhile.
            outcomes = await stage.run(payloads)
            with metrics.busy("prepare"):
                accepted: list[tuple[bytes, bytes]] = []
                for event, payload, outcome in zip(events, payloads, outcomes, strict=True):
                    message = event.message
                    if isinstance(outcome, Refused):
                        letter = DeadLetter.for_payload(
                            payload,
                            outcome.reason,
                            outcome.error_type,
                            topic=message.topic,
                            partition=message.partition,
                            offset=message.offset,
                        )
                        dlq.send_soon(key=message.key, value=_json(letter))
                        metrics.dead_letters.labels(reason=outcome.error_type).inc()
                        continue
                    accepted.append((outcome.key, outcome.value))
                metrics.articles.labels(agent="prepare", direction="out").inc(len(accepted))
            await send_bundled(prepared, accepted, prepared_partitions)

    cluster_stage = ClusterStage(
        ClusterOptions(partition_by=settings.partition_by), in_helper=settings.cluster_process
    )

    def cluster_log() -> list[str]:
        """The cluster log's entries, for the helper to rebuild the trackers it lacks from."""
        return [entry for _, entry in placed_log.items()]

    @app.agent(prepared, concurrency=1)
    async def cluster(stream: faust.StreamT[bytes]) -> None:
        # Two batches at a time: the helper places batch N+1 while the loop writes and sends
        # what batch N returned (and batch N+2 is collected). Batches are handed to the helper,
        # finished, and acked in order.
        events_stream = cast(faust.Stream[bytes], stream)
        assignment_partitions = await partition_count(app, assignments.get_topic_name())
        batches = event_batches(
            events_stream, settings.cluster_max_batch, settings.cluster_batch_seconds
        )
        newest: Placing | None = None  # the batch started last

        async def finish(
            events: list[EventT[bytes]], owners: list[EventT[bytes]], placing: Placing
        ) -> None:
            """Write and send what a batch placed; then ack its events."""
            outcome = await cluster_stage.settle(placing, cluster_log, lambda: newest)
            with metrics.busy("cluster"):
                commands: list[tuple[bytes, bytes]] = []
                for owner, placed in zip(owners, outcome.placed, strict=True):
                    # The cluster log is partitioned like the article's topic: faust takes the
                    # partition of a table write from the current event (task-local; the
                    # stream's own attribute belongs to the task filling the batches).
                    current_event.set(weakref.ref(owner))
                    metrics.dedup.labels(outcome=placed.outcome).inc()
                    if placed.log_entry is not None:
                        placed_log[placed.article_id] = placed.log_entry
                    for forgotten in placed.forgotten:
                        placed_log.pop(forgotten, None)
                    commands += placed.commands
                current_event.set(None)
                metrics.articles.labels(agent="cluster", direction="out").inc(len(outcome.placed))
                metrics.clustered_stories.set(outcome.stories)
            await send_bundled(assignments, commands, assignment_partitions)
            for event in events:
                await events_stream.ack(event)

        finishing: asyncio.Future[None] | None = None
        try:
            async for events in batches:
                owners: list[EventT[bytes]] = []  # the event that carried each article
                values: list[bytes] = []
                for event in events:
                    carried = values_of(event.value) if isinstance(event.value, bytes) else []
                    owners += [event] * len(carried)
                    values += carried
                metrics.articles.labels(agent="cluster", direction="in").inc(len(values))
                metrics.took_batch("cluster", len(values), (e.message.timestamp for e in events))
                newest = cluster_stage.start(values)
                if finishing is not None:
                    await finishing
                finishing = asyncio.ensure_future(finish(events, owners, newest))
            if finishing is not None:
                await finishing
        finally:
            # Stopped mid-way (rebalance, shutdown): unacked events are delivered again.
            if finishing is not None and not finishing.done():
                finishing.cancel()

    story_sweeps = _Every(EVICTION_SWEEP_EVERY)
    summary = SummaryShards(
        SummaryOptions.from_settings(settings, LIVE_STATES),
        in_helper=settings.summary_process,
        helpers=settings.summary_processes,
    )
    latest_event: dict[str, datetime] = {}
    activity: dict[str, datetime | None] = {}  # story id -> its last event, for eviction
    retention = timedelta(days=settings.story_retention_days)

    def _evict_quiet_stories() -> None:
        """Delete stories quiet for longer than the retention (by the stream's event time)."""
        now = latest_event.get("now")
        if now is None:
            return
        for story_id, raw in list(stories.items()):
            if story_id in activity:
                last = activity[story_id]
            else:  # stored before this worker took the partition: read it once
                state = StoryState.unpack(raw)
                last = activity[story_id] = state.last_event or state.first_seen
            if last is not None and now - last > retention:
                stories.pop(story_id, None)
                activity.pop(story_id, None)
                summary.forget(story_id)

    def write_batch(outcome: BatchOutcome, size: int) -> Publication:
        """Write what a batch changed to the table; return what may be sent once it is durable."""
        with metrics.busy("summarise"):
            for story_id, text in outcome.hand_overs:
                assignments.send_soon(key=story_id.encode(), value=text.encode())
            publication = Publication(arrivals=outcome.arrivals)
            for story_id, story in outcome.stories.items():
                stories[story_id] = story.state
                activity[story_id] = story.last_activity
                if story.render_seconds is not None:
                    metrics.summary_seconds.observe(story.render_seconds)
                if story.update is not None:
                    publication.updates.append((story_id, story.update))
                publication.alerts += [(story_id, rule, text) for rule, text in story.alerts]
            if outcome.latest_event is not None:
                now = latest_event.get("now", outcome.latest_event)
                latest_event["now"] = max(now, outcome.latest_event)
            # Sweep by work done, not batches: a backlog batch holds hundreds of commands.
            if story_sweeps.tick(size):
                _evict_quiet_stories()
        return publication

    async def publish(
        stream: faust.Stream[bytes],
        events: list[EventT[bytes]],
        publication: Publication,
        after: asyncio.Future[None] | None,
    ) -> None:
        """Send a batch's versions and alerts once its states are durable; then ack its events.

        ``after``: the previous batch's publication, which goes first (versions keep their
        order). A later batch's states may be written meanwhile: durable before the versions
        they lead to, as they must be, and sooner than needed, which is harmless.

        The state naming a version must be durable before any consumer sees the version:
        otherwise a crash could re-render it with different content. The events are acked
        only after their versions are handed to the producer, which faust flushes before it
        commits their offsets: a crash before that redelivers them, and the states they
        already changed re-send their last version.
        """
        if after is not None:
            await after
        if publication.updates:
            await flush_now(app)
            # Out at once: readers (and the benchmark, which times a version by the moment it
            # was handed to the producer) should not wait for the linger either.
            versions = publication.updates
            await send_now(updates, ((s.encode(), text.encode(), None) for s, text in versions))
            with metrics.busy("summarise"):
                for story_id, rule, text in publication.alerts:
                    alerts.send_soon(key=story_id.encode(), value=text.encode())
                    metrics.alerts.labels(rule=rule).inc()
                metrics.story_versions.inc(len(publication.updates))
                metrics.articles.labels(agent="summarise", direction="out").inc(
                    len(publication.updates)
                )
                sent_at = utc_now()
                for story_id, _ in publication.updates:
                    for received in publication.arrivals.get(story_id, ()):
                        metrics.update_delay.observe((sent_at - received).total_seconds())
        for event in events:
            await stream.ack(event)

    @app.agent(assignments, concurrency=1)
    async def summarise(stream: faust.StreamT[bytes]) -> None:
        # A pipeline: gathering batch N+2 (all that arrives meanwhile), summarising
        # batch N+1 in the helper processes, and the flush that must precede batch N's
        # versions. A batch's states are written as soon as the helpers return them, so the
        # helpers get the next batch without waiting for that flush; the versions follow, in
        # batch order, each batch's once its states are durable.
        events_stream = cast(faust.Stream[bytes], stream)
        await partition_count(app, stories.changelog_topic.get_topic_name())
        batches = event_batches(
            events_stream, settings.debounce_max_batch, settings.debounce_seconds
        )
        publishing: asyncio.Future[None] | None = None  # the last batch's publication
        earlier: asyncio.Future[None] | None = None  # the one before: awaited, to bound them
        try:
            async for events in batches:
                commands: list[bytes] = []
                story_ids: list[str] = []
                for event in events:
                    carried = values_of(event.value) if isinstance(event.value, bytes) else []
                    commands += carried
                    story_ids += _story_ids(event, carried)
                metrics.articles.labels(agent="summarise", direction="in").inc(len(commands))
                metrics.took_batch(
                    "summarise", len(commands), (e.message.timestamp for e in events)
                )
                # Not counted as busy: with the helper processes the loop runs other agents.
                outcome = await summary.run(commands, story_ids, stories.get)
                publication = write_batch(outcome, len(commands))
                if earlier is not None:
                    await earlier
                earlier = publishing
                publishing = asyncio.ensure_future(
                    publish(events_stream, events, publication, after=publishing)
                )
            if publishing is not None:
                await publishing
        finally:
            # Stopped mid-way (rebalance, shutdown): unacked events are delivered again.
            for pending in (earlier, publishing):
                if pending is not None and not pending.done():
                    pending.cancel()

    return app


async def partition_count(app: faust.App, topic: str) -> int:
    """How many partitions ``topic`` has, as the worker's producer knows them.

    Asking also makes the producer learn the topic: a table with ``use_partitioner`` hashes
    each key to a changelog partition with the producer's metadata, synchronously; aiokafka
    knows a topic only once something asked for it, and the first write of a fresh worker
    could come first: the agent then crashed with a TypeError (seen once, when two
    benchmarks shared the machine and startup was slow).
    """
    producer = cast(Any, app.producer)._ensure_producer()  # faust's aiokafka driver
    return len(await producer.partitions_for(topic))


def _story_ids(event: EventT[bytes], commands: list[bytes]) -> list[str]:
    """The story each command of an event names: every command is keyed by its story."""
    message = event.message
    keys = keys_of(message.key, message.headers)
    if len(keys) == len(commands):
        return [key.decode() for key in keys]
    # Not keyed as we send them (written by hand?): read each command's own story id.
    return [Assignment.model_validate_json(command).story_id for command in commands]


@dataclass
class Publication:
    """A batch's versions and alerts, to send once the states behind them are durable."""

    updates: list[tuple[str, str]] = field(default_factory=list)
    alerts: list[tuple[str, str, str]] = field(default_factory=list)
    """(story id, rule, Alert JSON)."""
    arrivals: dict[str, list[datetime]] = field(default_factory=dict)


class _Every:
    """Says yes once every ``count`` ticks (for periodic sweeps driven by work done)."""

    def __init__(self, count: int) -> None:
        self.count = count
        self._done = 0

    def tick(self, amount: int = 1) -> bool:
        self._done += amount
        if self._done >= self.count:
            self._done = 0
            return True
        return False
