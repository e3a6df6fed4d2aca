"""The operator's metrics, in one registry served as Prometheus text on ``GET /metrics``.

prometheus_client rather than hand-formatted text: it gets the exposition format, label escaping
and histogram buckets right, and it already comes with ``faust-streaming[prometheus]``. A
registry of our own (not the global one) keeps the names ours and lets tests build several apps
in one process. Metrics are per worker process; Prometheus sums them over workers.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.5, 5.0, 10.0, 30.0, 60.0)
BATCH_BUCKETS = (1, 5, 10, 25, 50, 100, 150, 200, 300, 500, 1000)


class Metrics:
    """Every metric the service exports."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.articles = Counter(
            "storystream_articles",
            "Messages taken in and sent out by each agent.",
            ["agent", "direction"],
            registry=r,
        )
        self.agent_busy = Counter(
            "storystream_agent_busy_seconds",
            "Time each agent spent handling its input (its share of the worker's CPU).",
            ["agent"],
            registry=r,
        )
        self.dead_letters = Counter(
            "storystream_dead_letters",
            "Messages sent to the DLQ, by reason.",
            ["reason"],
            registry=r,
        )
        self.dedup = Counter(
            "storystream_dedup_outcomes",
            "Dedup decisions: unique, duplicate_of, syndicated_from; replay for a redelivery.",
            ["outcome"],
            registry=r,
        )
        self.story_versions = Counter(
            "storystream_story_versions", "Story versions published.", registry=r
        )
        self.alerts = Counter(
            "storystream_alerts", "Alerts published, by rule.", ["rule"], registry=r
        )
        self.stories_active = Gauge(
            "storystream_stories_active", "Live stories held in the story view.", registry=r
        )
        self.clustered_stories = Gauge(
            "storystream_clusterer_stories",
            "Stories held by this worker's clusterers.",
            registry=r,
        )
        self.summary_seconds = Histogram(
            "storystream_summary_render_seconds",
            "Time to render one story version (selection and summary).",
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
            registry=r,
        )
        self.update_delay = Histogram(
            "storystream_update_delay_seconds",
            "From an article's arrival (prepare agent) to the story version that includes it.",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.consumer_lag = Gauge(
            "storystream_consumer_lag",
            "Messages not yet processed by the service's consumer group, per input topic.",
            ["topic"],
            registry=r,
        )
        self.batch_messages = Histogram(
            "storystream_batch_messages",
            "Messages in each batch an agent takes up (articles; commands for summarise).",
            ["agent"],
            buckets=BATCH_BUCKETS,
            registry=r,
        )
        self.batch_wait = Histogram(
            "storystream_batch_wait_seconds",
            "How long the oldest message of each batch had been in Kafka (since its timestamp)"
            " when the agent took the batch up: where a queue forms, and whether batches fill.",
            ["agent"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.view_lag = Gauge(
            "storystream_view_lag", "Story updates not yet in this worker's view.", registry=r
        )

    @contextmanager
    def busy(self, agent: str) -> Iterator[None]:
        """Count the time spent in the block as ``agent``'s busy time."""
        started = time.perf_counter()
        try:
            yield
        finally:
            self.agent_busy.labels(agent=agent).inc(time.perf_counter() - started)

    def took_batch(self, agent: str, messages: int, timestamps: Iterable[float]) -> None:
        """Record a batch an agent takes up: its size, and its oldest message's wait so far.

        ``timestamps``: its Kafka messages' timestamps (epoch seconds). The consumer lag says
        how much waits in Kafka; this says how long the oldest of a batch waited in Kafka and
        in the worker's buffers together, and how full batches are when a stage falls
        behind. A producer's clock ahead of ours reads as no wait, never a negative one; a
        message without a timestamp (Kafka's -1) counts for the size only.
        """
        self.batch_messages.labels(agent=agent).observe(messages)
        oldest = min((t for t in timestamps if t > 0), default=None)
        if oldest is not None:
            self.batch_wait.labels(agent=agent).observe(max(0.0, time.time() - oldest))

    def exposition(self) -> bytes:
        """The registry in Prometheus text format."""
        return generate_latest(self.registry)
