"""Reading article feeds from disk and producing them to Kafka (kafka-python).

A feed is JSONL (one Article or ninjs object per line), a JSON file (one object or a list), a
folder of scraped ``.txt`` pages, or ``-`` for JSONL on standard input. Lines are sent as the
bytes we read: a malformed line must reach the dead-letter topic as it was, not be "fixed" here.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from kafka import KafkaConsumer, KafkaProducer

from stream.prepare import article_from_text


def feed_messages(path: str) -> Iterator[tuple[bytes | None, bytes]]:
    """Yield ``(key, value)`` messages from a feed path (key = article id when readable)."""
    if path == "-":
        yield from _jsonl(sys.stdin.buffer)
        return
    source = Path(path)
    if source.is_dir():
        for file in sorted(source.glob("*.txt")):
            article = article_from_text(
                file.read_text(encoding="utf-8", errors="replace"),
                article_id=file.stem,
                source=file.stem,
            )
            yield article.id.encode(), article.model_dump_json(exclude_none=True).encode()
        return
    if source.suffix == ".json":
        data = json.loads(source.read_text(encoding="utf-8"))
        for item in data if isinstance(data, list) else [data]:
            yield _key_of(item), json.dumps(item).encode()
        return
    with source.open("rb") as handle:
        yield from _jsonl(handle)


def _jsonl(handle: object) -> Iterator[tuple[bytes | None, bytes]]:
    for line in handle:  # type: ignore[attr-defined]
        line = line.rstrip(b"\r\n")
        if not line.strip():
            continue
        try:
            key = _key_of(json.loads(line))
        except (ValueError, UnicodeDecodeError):
            key = None
        yield key, line


def _key_of(item: object) -> bytes | None:
    if isinstance(item, dict):
        ident = item.get("id") or item.get("uri")
        if isinstance(ident, str) and ident:
            return ident.encode()
    return None


INGEST_LINGER_MS = 30
"""How long ingest waits to fill a produce request. kafka-python's cost is per request: at 130
articles/s, 30 ms rather than 5 took 42 % off the producing process and 17 % off the broker
(with the worker's linger, ``bench/e2e.py`` runs side by side); an article waits 30 ms at most."""


CLIENT_METRICS = False
"""Whether our kafka-python clients keep their own metrics (sensors updated on every send,
request and fetch). Nothing reads them: the worker's metrics are its own (``agents.metrics``).
Off, a producer at 300 messages/s used 0.070 of a core instead of 0.077 (232 against 257 us a
message, two runs each, session 31); reading was the same either way."""


def make_producer(bootstrap: str) -> KafkaProducer:
    """An idempotent producer (acks=all): a retry never duplicates a message in the log."""
    return KafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=True,
        linger_ms=INGEST_LINGER_MS,
        max_request_size=8_388_608,
        client_id="storystream-ingest",
        metrics_enabled=CLIENT_METRICS,
    )


def produce(
    producer: KafkaProducer,
    topic: str,
    messages: Iterator[tuple[bytes | None, bytes]],
    *,
    rate: float = 0.0,
    progress: bool = True,
) -> int:
    """Send messages to ``topic`` at ``rate`` per second (0 = as fast as possible)."""
    from tqdm import tqdm

    sent = 0
    started = time.monotonic()
    for key, value in tqdm(messages, desc=f"-> {topic}", unit="msg", disable=not progress):
        if rate > 0:
            wait = started + sent / rate - time.monotonic()
            if wait > 0:
                time.sleep(wait)
        producer.send(topic, key=key, value=value)
        sent += 1
    producer.flush()
    return sent


def make_consumer(
    bootstrap: str, topic: str, *, from_beginning: bool = True, **options: Any
) -> KafkaConsumer:
    """A group-less consumer that reads a topic from the start (or only new messages).

    ``options`` go to kafka-python's ``KafkaConsumer`` (fetch sizes and waits, for instance).
    """
    return KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest" if from_beginning else "latest",
        consumer_timeout_ms=500,
        client_id="storystream-tail",
        metrics_enabled=CLIENT_METRICS,
        **options,
    )
