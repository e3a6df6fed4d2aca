"""The faust app: topics, tables and three thin agents wiring the pure core to Kafka.

    articles.raw --prepare--> articles.prepared (key: language) --cluster--> stories.assignments
    (key: story id) --summarise--> stories.updates (key: story id); bad input --> articles.dlq

- ``prepare`` validates, cleans and tokenises batches in helper processes
  (:mod:`agents.prepare_stage`); anything bad becomes a DeadLetter with the reason.
- ``cluster`` runs one :class:`~stream.tracker.StoryTracker` per language. Its durable state is a
  changelog-backed table of the articles it placed (in arrival order); a restarted or moved worker
  replays that table into a fresh tracker before it takes the next article.
- ``summarise`` keeps one :class:`~stream.story.StoryState` per story in a changelog-backed table,
  coalesces bursts with ``stream.take(within=debounce)``, and emits a version only on change.
  The work itself runs in a helper process that keeps states parsed (:mod:`agents.summary_stage`);
  the agent writes the states it returns and sends the versions.
  The alert rules run there too, on each new version, with their memory in the story's state
  (``stories.alerts``): no second consumer of ``stories.updates`` and no second table write.
- Every worker also folds all of ``stories.updates`` into a :class:`~stream.views.StoryView` that
  its web pages serve (:mod:`agents.viewer`, :mod:`agents.web`).

Agents use ``concurrency=1``: with more, faust can commit an offset past an event still being
processed (an open faust bug), which would lose it in a crash.

Agents produce with ``send_soon``: the message joins faust's producer buffer and the agent goes
on; faust flushes that buffer before it commits the offsets of the events that caused them
(``Consumer._commit_tps``), so a crash loses no message, and the buffer keeps the order in which
agents (and table writes) put them. Awaiting each send cost the clustering agent 0.46 ms an
article, a fifth of its time, while the loop had nothing else to do.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from typing import Any, cast

import faust

from agents.metrics import Metrics
from agents.prepare_stage import PrepareOptions, PrepareStage, Refused
from agents.settings import Settings
from agents.summary_stage import BatchOutcome, SummaryOptions, SummaryStage
from agents.viewer import UpdatesFeed
from agents.web import LiveHub, register_web
from stream.models import Assignment, DeadLetter, PreparedArticle, StoryUpdate, utc_now
from stream.offline import partition_key
from stream.story import StoryState
from stream.tracker import StoryTracker
from stream.views import StoryView

log = logging.getLogger("storystream")

EVICTION_SWEEP_EVERY = 2_000
"""Commands between sweeps of the story table for stories past their retention."""

LIVE_STATES = 5_000
"""Parsed story states the summary work keeps between batches (the most recently used)."""


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
        # and one produce request per message cost more CPU than the agents' own work.
        producer_linger_ms=5,
        producer_max_batch_size=1_048_576,
        consumer_auto_offset_reset="earliest",
        stream_wait_empty=False,
    )
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

    def story_table(name: str) -> Any:
        """A table keyed by story id, partitioned like the topic its agent reads."""
        return app.Table(
            name,
            default=None,
            key_type=str,
            value_type=str,
            partitions=settings.partitions,
            use_partitioner=True,
        )

    stories = story_table("stories")
    trackers: dict[str, StoryTracker] = {}
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
        # take_events is on faust's Stream, not on the StreamT protocol agents are typed with.
        batches = cast(faust.Stream[bytes], stream).take_events(
            settings.prepare_max_batch, within=settings.prepare_batch_seconds
        )
        async for events in batches:
            payloads = [e.value if isinstance(e.value, bytes) else b"" for e in events]
            metrics.articles.labels(agent="prepare", direction="in").inc(len(events))
            # Not counted as busy: with helper processes the loop runs other agents meanwhile.
            outcomes = await stage.run(payloads)
            with metrics.busy("prepare"):
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
                    prepared.send_soon(key=outcome.key, value=outcome.value)
                    metrics.articles.labels(agent="prepare", direction="out").inc()

    def tracker_for(key: str) -> StoryTracker:
        tracker = trackers.get(key)
        if tracker is None:
            # Rebuild from the changelog-backed log: replay placed articles in arrival order.
            tracker = trackers[key] = StoryTracker()
            entries = []
            for _, value in placed_log.items():
                article = PreparedArticle.model_validate_json(value)
                if partition_key(article, settings.partition_by) == key:
                    entries.append(article)
            for article in sorted(entries, key=lambda a: (a.model_extra or {}).get("seq", 0)):
                tracker.step(article)
            log.info("rebuilt tracker %s from %d logged articles", key, len(entries))
        return tracker

    @app.agent(prepared, concurrency=1)
    async def cluster(stream: faust.StreamT[bytes]) -> None:
        async for value in stream:
            with metrics.busy("cluster"):
                article = PreparedArticle.model_validate_json(value)
                metrics.articles.labels(agent="cluster", direction="in").inc()
                tracker = tracker_for(partition_key(article, settings.partition_by))
                placed = tracker.step(article)
                outcome = "replay" if placed.replay else placed.dedup.kind.value
                metrics.dedup.labels(outcome=outcome).inc()
                if not placed.replay:
                    logged = article.model_copy(update={"seq": len(tracker)})
                    # Without its tokens: a replay after a restart is rare, the log is written
                    # for every article.
                    placed_log[article.id] = logged.model_dump_json(exclude={"tokens"})
                for forgotten in tracker.drain_forgotten():
                    placed_log.pop(forgotten, None)
                command = Assignment(
                    story_id=placed.story_id,
                    article=article,
                    dedup=placed.dedup,
                    merged_from=list(placed.merged_from),
                )
                assignments.send_soon(key=placed.story_id.encode(), value=_json(command))
                metrics.articles.labels(agent="cluster", direction="out").inc()
                metrics.clustered_stories.set(
                    sum(len(t.clusterer.stories) for t in trackers.values())
                )
                for gone in placed.merged_from:
                    merge = Assignment(kind="merge", story_id=gone, into=placed.story_id)
                    assignments.send_soon(key=gone.encode(), value=_json(merge))

    story_sweeps = _Every(EVICTION_SWEEP_EVERY)
    summary_stage = SummaryStage(
        SummaryOptions(
            words=settings.summary_words,
            breaking_outlets=settings.breaking_outlets,
            breaking_minutes=settings.breaking_minutes,
            resume_quiet_hours=settings.resume_quiet_hours,
            live_states=LIVE_STATES,
        ),
        in_helper=settings.summary_process,
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
                state = StoryState.model_validate_json(raw)
                last = activity[story_id] = state.last_event or state.first_seen
            if last is not None and now - last > retention:
                stories.pop(story_id, None)
                activity.pop(story_id, None)
                summary_stage.forget(story_id)

    async def summarise_batch(commands: list[bytes], named: set[str]) -> BatchOutcome:
        """Run the summary work, giving it the stored state of every story it does not hold."""
        current = {story_id: stories.get(story_id) for story_id in named}
        stored = {s: t for s, t in current.items() if not summary_stage.holds(s, t)}
        outcome = await summary_stage.run(commands, stored)
        if outcome.missing:  # the work let a state go, or its process was replaced
            named |= {s for s in outcome.missing if s != "*"}
            outcome = await summary_stage.run(commands, {s: stories.get(s) for s in named})
        return outcome

    @app.agent(assignments, concurrency=1)
    async def summarise(stream: faust.StreamT[bytes]) -> None:
        batches = cast(faust.Stream[bytes], stream).take_events(
            settings.debounce_max_batch, within=settings.debounce_seconds
        )
        async for events in batches:
            commands = [e.value if isinstance(e.value, bytes) else b"" for e in events]
            # Every command is keyed by the story it changes.
            named = {e.message.key.decode() for e in events if e.message.key}
            metrics.articles.labels(agent="summarise", direction="in").inc(len(events))
            # Not counted as busy: with the helper process the loop runs other agents meanwhile.
            outcome = await summarise_batch(commands, named)
            with metrics.busy("summarise"):
                for story_id, text in outcome.hand_overs:
                    assignments.send_soon(key=story_id.encode(), value=text.encode())
                outgoing: list[tuple[str, str]] = []
                fired: list[tuple[str, str, str]] = []
                for story_id, story in outcome.stories.items():
                    stories[story_id] = story.state
                    activity[story_id] = story.last_activity
                    if story.render_seconds is not None:
                        metrics.summary_seconds.observe(story.render_seconds)
                    if story.update is not None:
                        outgoing.append((story_id, story.update))
                    fired += [(story_id, rule, text) for rule, text in story.alerts]
                if outcome.latest_event is not None:
                    now = latest_event.get("now", outcome.latest_event)
                    latest_event["now"] = max(now, outcome.latest_event)
                # Sweep by work done, not batches: a backlog batch holds hundreds of commands.
                if story_sweeps.tick(len(events)):
                    _evict_quiet_stories()
                if outgoing:
                    # The state naming these versions must be durable before any consumer sees
                    # them: otherwise a crash could re-render a version with different content.
                    await app.producer.flush()
                    for story_id, payload in outgoing:
                        updates.send_soon(key=story_id.encode(), value=payload.encode())
                    for story_id, rule, text in fired:
                        alerts.send_soon(key=story_id.encode(), value=text.encode())
                        metrics.alerts.labels(rule=rule).inc()
                    metrics.story_versions.inc(len(outgoing))
                    metrics.articles.labels(agent="summarise", direction="out").inc(len(outgoing))
                    sent_at = utc_now()
                    for story_id, _ in outgoing:
                        for received in outcome.arrivals.get(story_id, ()):
                            metrics.update_delay.observe((sent_at - received).total_seconds())

    return app


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
