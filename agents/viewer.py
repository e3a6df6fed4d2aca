"""Feeds each worker's story view from ``stories.updates``, and watches broker and lag.

Every worker reads *every* partition of the updates topic (no consumer group: a plain
kafka-python consumer assigned all partitions from the beginning), so any worker answers any
story, listing or history request, and the API needs no request routing between workers. That
costs each worker a read of the updates stream, small next to the article stream (one version
per story per debounce window). faust's ``table_route`` would instead forward ``/stories/{id}``
to the owner of a table partition, but listings and full-text filters span all partitions,
which would need a scatter-gather per request.

kafka-python is synchronous, so the consumer runs in its own thread and hands decoded updates to
the event loop with ``call_soon_threadsafe``: the view is only ever touched by the loop's thread.
The same thread measures the consumer group's lag every few seconds (admin client offsets
against end offsets), which is both a metric and the readiness test's "broker reachable".
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from kafka import KafkaAdminClient, KafkaConsumer, OffsetSpec, TopicPartition
from pydantic import ValidationError

from agents.feeds import CLIENT_METRICS
from agents.settings import Settings
from stream.models import StoryUpdate

log = logging.getLogger("storystream.viewer")

LAG_EVERY_SECONDS = 3.0


@dataclass
class FeedStatus:
    """What readiness and metrics read about the feed (written by the feed thread only)."""

    caught_up: bool = False
    last_contact: float = 0.0
    consumer_lag: dict[str, int] = field(default_factory=dict)
    view_lag: int = 0
    error: str = ""

    def broker_reachable(self, within_seconds: float = 15.0) -> bool:
        """Whether the broker answered the last lag check recently."""
        return self.last_contact > 0 and time.monotonic() - self.last_contact <= within_seconds


class UpdatesFeed:
    """A thread that streams story updates into the loop and measures lag."""

    def __init__(
        self,
        settings: Settings,
        deliver: Callable[[list[StoryUpdate]], None],
        lag_topics: list[str],
    ) -> None:
        self.settings = settings
        self.deliver = deliver
        self.lag_topics = lag_topics
        self.status = FeedStatus()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        """Start reading; updates are delivered on ``loop``."""
        self._loop = loop
        self._thread = threading.Thread(target=self._run, name="updates-feed", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread (it exits within one poll)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._consume()
            except Exception as error:  # broker gone, topic deleted...: report, retry
                self.status.error = f"{type(error).__name__}: {error}"
                log.warning("updates feed: %s; retrying", self.status.error)
                self._stop.wait(2.0)

    def _consume(self) -> None:
        topic = self.settings.topics["updates"]
        servers = self.settings.bootstrap_servers.split(",")
        consumer = KafkaConsumer(
            bootstrap_servers=servers,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            client_id=f"{self.settings.app_id}-view",
            # Fewer, fuller fetches: each one wakes this thread and kafka-python's I/O thread,
            # and they take the GIL from the agents (8 % of a loaded worker's loop, py-spy).
            fetch_min_bytes=65_536,
            fetch_max_wait_ms=100,
            metrics_enabled=CLIENT_METRICS,
        )
        admin = KafkaAdminClient(bootstrap_servers=servers, client_id=f"{self.settings.app_id}-lag")
        try:
            partitions = self._partitions(consumer, topic)
            consumer.assign(partitions)
            consumer.seek_to_beginning(*partitions)
            target = consumer.end_offsets(partitions)
            next_lag_check = 0.0
            while not self._stop.is_set():
                batch = consumer.poll(timeout_ms=200, max_records=1000)
                updates = []
                for records in batch.values():
                    for record in records:
                        try:
                            updates.append(StoryUpdate.model_validate_json(record.value))
                        except ValidationError as error:
                            log.warning("skipping an unreadable story update: %s", error)
                if updates and self._loop is not None:
                    self._loop.call_soon_threadsafe(self.deliver, updates)
                if not self.status.caught_up:
                    self.status.caught_up = all(
                        consumer.position(tp) >= offset for tp, offset in target.items()
                    )
                if time.monotonic() >= next_lag_check:
                    next_lag_check = time.monotonic() + LAG_EVERY_SECONDS
                    try:
                        self._measure_lag(consumer, admin, partitions)
                    except Exception as error:  # a failed check must not restart the feed
                        # (a restart re-reads the whole updates topic): report and go on.
                        self.status.error = f"lag check: {type(error).__name__}: {error}"
                        log.warning("updates feed: %s", self.status.error)
        finally:
            consumer.close()
            admin.close()

    def _partitions(self, consumer: KafkaConsumer, topic: str) -> list[TopicPartition]:
        while not self._stop.is_set():
            found = consumer.partitions_for_topic(topic)
            if found:
                return [TopicPartition(topic, p) for p in sorted(found)]
            self._stop.wait(1.0)
        return []

    def _measure_lag(
        self, consumer: KafkaConsumer, admin: KafkaAdminClient, own: list[TopicPartition]
    ) -> None:
        group = self.settings.app_id
        committed = admin.list_group_offsets({group: None}).get(group, {})
        inputs = [tp for tp in committed if tp.topic in self.lag_topics]
        # End offsets from the admin client: the consumer only holds metadata for the topic it
        # reads, and kafka-python's ``end_offsets`` fails (KeyError) on the agents' topics.
        wanted = {tp: OffsetSpec.LATEST for tp in [*inputs, *own]}
        listed = admin.list_partition_offsets(wanted) if wanted else {}
        ends = {tp: found.offset for tp, found in listed.items()}
        lag: dict[str, int] = dict.fromkeys(self.lag_topics, 0)
        for tp in inputs:
            lag[tp.topic] += max(0, ends.get(tp, 0) - max(committed[tp].offset, 0))
        self.status.consumer_lag = lag
        self.status.view_lag = sum(max(0, ends[tp] - consumer.position(tp)) for tp in own)
        self.status.last_contact = time.monotonic()
        self.status.error = ""
