"""Soak and recovery on a real broker: memory must level off; restart time per 10k stories.

    python bench/faults.py soak --articles 100000      # worker RSS as articles flow through
    python bench/faults.py recovery --stories 10000    # restart time with 10k stories in state

Uses KAFKA_BOOTSTRAP_SERVERS if set, else starts a local broker (agents.broker) on free ports.
The soak's articles span 60 days of publish time, so stories and dedup entries pass their
retention (14 and 3 days) and must be evicted: RSS should stop growing once the retained window
is full (after about a quarter of the run).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition  # noqa: E402

from agents.demo import start_worker, stop_worker, wait_until_consuming  # noqa: E402
from agents.feeds import make_consumer, make_producer  # noqa: E402
from agents.settings import Settings  # noqa: E402
from bench.kafka_env import broker, descendants, environment, helper_stage, rss_mb  # noqa: E402
from bench.synth import article_paragraphs, make_event, make_topic, title  # noqa: E402
from stream.bundles import values_of  # noqa: E402

START = datetime(2026, 6, 1, tzinfo=UTC)


def articles(count: int, days: float, seed: int = 1) -> Iterator[tuple[bytes, bytes]]:
    """A long stream: events start and fade; publish time advances steadily over ``days``."""
    rng = random.Random(seed)
    topics = [make_topic(rng) for _ in range(200)]
    active: list = []
    for i in range(count):
        when = START + timedelta(days=days * i / count)
        if not active or rng.random() < 0.25:
            active.append(make_event(rng, rng.choice(topics), when, event_id=f"e{i}"))
            active = active[-60:]
        event = rng.choice(active)
        body = {
            "id": f"soak-{i}",
            "source": f"Outlet {rng.randrange(40)}",
            "title": title(rng, event),
            "body": "\n\n".join(article_paragraphs(rng, event, paragraphs=rng.randint(3, 7))),
            "published_at": when.isoformat(),
            "language": "en",
        }
        yield body["id"].encode(), json.dumps(body).encode()


class Processed:
    """Articles the clustering agent has committed: those its input offsets have passed.

    Its input, the prepared topic, carries a batch's articles in one message (a bundle), so
    the committed offsets count messages: the articles are counted in the messages below
    them, each message read once.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.topic = settings.topics["prepared"]
        self.counted: dict[int, int] = {}  # partition -> offset counted up to
        self.total = 0
        self.reader = KafkaConsumer(
            bootstrap_servers=settings.bootstrap_servers,
            group_id=None,
            enable_auto_commit=False,
        )

    def __call__(self) -> int:
        for partition, upto in self._committed().items():
            start = self.counted.get(partition, 0)
            if upto > start:
                self.total += self._articles(partition, start, upto)
                self.counted[partition] = upto
        return self.total

    def close(self) -> None:
        self.reader.close()

    def _committed(self) -> dict[int, int]:
        admin = KafkaAdminClient(bootstrap_servers=self.settings.bootstrap_servers)
        try:
            group = self.settings.app_id
            offsets = admin.list_group_offsets(group).get(group, {})
        except Exception:  # the group may not have committed yet
            return {}
        finally:
            admin.close()
        return {
            tp.partition: meta.offset
            for tp, meta in offsets.items()
            if tp.topic == self.topic and meta.offset > 0
        }

    def _articles(self, partition: int, start: int, upto: int) -> int:
        tp = TopicPartition(self.topic, partition)
        self.reader.assign([tp])
        self.reader.seek(tp, start)
        found = 0
        while self.reader.position(tp) < upto:
            for records in self.reader.poll(timeout_ms=1000).values():
                found += sum(len(values_of(r.value)) for r in records if r.offset < upto)
        return found


def worker_memory(pid: int) -> tuple[float, dict[str, float]]:
    """RSS of a worker's main process, and of its helpers by stage (MB).

    The cluster and summary helpers hold the trackers and the story states: a worker's own
    RSS alone no longer says whether its state levels off.
    """
    helpers: dict[str, float] = {}
    for child in descendants(pid):
        stage = helper_stage(child)
        if stage is not None:
            helpers[stage] = helpers.get(stage, 0.0) + rss_mb(child)
    return rss_mb(pid), helpers


def soak(bootstrap: str, count: int) -> None:
    env, settings = environment(bootstrap)
    worker = start_worker(settings, env)
    assert wait_until_consuming(settings.bootstrap_servers, settings.app_id)
    producer = make_producer(bootstrap)
    started = time.monotonic()
    for key, value in articles(count, days=60):
        producer.send(settings.topics["raw"], key=key, value=value)
    producer.flush()
    producer.close()
    print(
        "| articles processed | worker RSS MB | helpers RSS MB by stage | total RSS MB | elapsed s |"
    )
    print("| --- | --- | --- | --- | --- |")
    processed = Processed(settings)
    next_report, done = 0, 0
    try:
        while done < count and worker.poll() is None:
            time.sleep(5)
            done = processed()
            if done >= next_report:
                main, helpers = worker_memory(worker.pid)
                by_stage = " + ".join(f"{stage} {mb:,.0f}" for stage, mb in sorted(helpers.items()))
                print(
                    f"| {done:,} | {main:,.0f} | {by_stage} | {main + sum(helpers.values()):,.0f} "
                    f"| {time.monotonic() - started:,.0f} |",
                    flush=True,
                )
                next_report = done + count // 20
        elapsed = time.monotonic() - started
        main, helpers = worker_memory(worker.pid)
        print(
            f"\n{done:,} articles in {elapsed:,.0f} s: {done / elapsed:,.0f} articles/s end to end; "
            f"final RSS {main + sum(helpers.values()):,.0f} MB (worker and its helpers)"
        )
    finally:
        processed.close()
        stop_worker(worker)


def recovery(bootstrap: str, stories: int) -> None:
    env, settings = environment(bootstrap)
    worker = start_worker(settings, env)
    assert wait_until_consuming(settings.bootstrap_servers, settings.app_id)
    producer = make_producer(bootstrap)
    rng = random.Random(3)
    for i in range(stories):  # one article per event: one story each
        event = make_event(rng, None, START, event_id=f"r{i}")
        body = {
            "id": f"r{i}",
            "source": "Outlet",
            "title": title(rng, event),
            "body": "\n\n".join(article_paragraphs(rng, event, paragraphs=3)),
            "published_at": START.isoformat(),
            "language": "en",
        }
        producer.send(
            settings.topics["raw"], key=body["id"].encode(), value=json.dumps(body).encode()
        )
    producer.flush()
    processed = Processed(settings)
    while processed() < stories:
        time.sleep(2)
    processed.close()
    time.sleep(5)
    stop_worker(worker)
    started = time.monotonic()
    worker = start_worker(settings, env)
    try:
        consumer = make_consumer(bootstrap, settings.topics["updates"], from_beginning=False)
        consumer.poll(timeout_ms=1000)
        probe = {
            "id": "probe",
            "source": "Outlet",
            "title": "Probe story headline here",
            "body": "The probe article arrived after the restart to time the recovery of all state.",
            "published_at": START.isoformat(),
            "language": "en",
        }
        producer.send(settings.topics["raw"], key=b"probe", value=json.dumps(probe).encode())
        producer.flush()
        while True:
            batch = consumer.poll(timeout_ms=500)
            if any(b"probe" in m.value for ms in batch.values() for m in ms):
                break
        elapsed = time.monotonic() - started
        print(
            f"| stories in state | restart to first new update, s |\n| --- | --- |\n| {stories:,} | {elapsed:.1f} |"
        )
    finally:
        producer.close()
        stop_worker(worker)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["soak", "recovery"])
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--stories", type=int, default=10_000)
    args = parser.parse_args()
    with broker() as (bootstrap, _):
        if args.mode == "soak":
            soak(bootstrap, args.articles)
        else:
            recovery(bootstrap, args.stories)


if __name__ == "__main__":
    main()
