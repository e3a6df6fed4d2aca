"""Nothing lost, nothing doubled: a worker killed mid-burst, a broker restarted mid-run."""

from __future__ import annotations

import json
import os
import signal
import threading
import time

import pytest

from agents.demo import start_worker, stop_worker, wait_until_consuming
from agents.topics import ensure_topics
from bench.streams import make_stream
from stream.models import Article, StoryUpdate
from stream.prepare import prepare
from stream.tracker import StoryTracker
from tests.harness import collect_updates, send, settings_for

pytestmark = pytest.mark.kafka


def _burst(seed: int = 4) -> list[tuple[bytes, bytes]]:
    items = make_stream(seed=seed, topics=12)
    return [(str(i.article["id"]).encode(), json.dumps(i.article).encode()) for i in items]


def _expected(messages: list[tuple[bytes, bytes]]) -> set[frozenset[str]]:
    """Story membership of an uninterrupted run (one partition: the order is the send order)."""
    tracker = StoryTracker()
    articles = [prepare(Article.model_validate_json(v), now=None) for _, v in messages]
    for article in articles:
        tracker.step(article)
    stories: dict[str, set[str]] = {}
    for article in articles:
        stories.setdefault(tracker.story_of(article.id) or "", set()).add(article.id)
    return {frozenset(s) for s in stories.values()}


def _final(latest: dict[str, StoryUpdate]) -> dict[str, StoryUpdate]:
    absorbed = {s for u in latest.values() for s in u.merged_from}
    return {sid: u for sid, u in latest.items() if sid not in absorbed}


def _check(messages, latest, every, outlets):
    final = _final(latest)
    ids = [a for u in final.values() for a in u.article_ids]
    assert sorted(ids) == sorted(k.decode() for k, _ in messages), "an article is lost or doubled"
    assert {frozenset(u.article_ids) for u in final.values()} == _expected(messages)
    for update in final.values():
        assert set(update.sources) == {outlets[a] for a in update.article_ids}
    contents: dict[tuple[str, int], set[str]] = {}
    for update in every:
        contents.setdefault((update.story_id, update.version), set()).add(update.model_dump_json())
    reused = {k: v for k, v in contents.items() if len(v) > 1}
    assert not reused, f"versions reused with different content: {sorted(reused)[:5]}"
    by_story: dict[str, list[int]] = {}
    for update in every:
        by_story.setdefault(update.story_id, []).append(update.version)
    for versions in by_story.values():
        distinct = sorted(set(versions))
        assert distinct == list(range(1, len(distinct) + 1)), "a version was skipped"


def _done(total: int):
    return lambda latest: sum(len(u.article_ids) for u in _final(latest).values()) >= total


def _paced_send(settings, messages, rate: float) -> threading.Thread:
    def run() -> None:
        for start in range(0, len(messages), 10):
            send(settings, messages[start : start + 10])
            time.sleep(10 / rate)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_worker_killed_mid_burst_loses_and_doubles_nothing(run_env):
    env = {**run_env, "STORYSTREAM_PARTITIONS": "1"}
    settings = settings_for(env)
    ensure_topics(settings)
    messages = _burst()
    outlets = {json.loads(v)["id"]: json.loads(v)["source"] for _, v in messages}
    first = start_worker(settings, env)
    assert wait_until_consuming(settings.bootstrap_servers, settings.app_id)
    sender = _paced_send(settings, messages, rate=60)
    collect_updates(settings, lambda latest: len(latest) >= 3, timeout=60)
    os.killpg(first.pid, signal.SIGKILL)  # mid-burst: the sender is still sending
    first.wait()
    second = start_worker(settings, env)
    try:
        sender.join()
        latest, every = collect_updates(settings, _done(len(messages)), timeout=180)
    finally:
        stop_worker(second)
    _check(messages, latest, every, outlets)


def test_broker_restart_mid_run_loses_and_doubles_nothing(run_env, kafka_broker):
    _, broker = kafka_broker
    if broker is None:
        pytest.skip("the broker is not ours to restart (external or container)")
    env = {**run_env, "STORYSTREAM_PARTITIONS": "1"}
    settings = settings_for(env)
    ensure_topics(settings)
    messages = _burst(seed=5)
    outlets = {json.loads(v)["id"]: json.loads(v)["source"] for _, v in messages}
    worker = start_worker(settings, env)
    try:
        assert wait_until_consuming(settings.bootstrap_servers, settings.app_id)
        half = len(messages) // 2
        send(settings, messages[:half])
        collect_updates(settings, lambda latest: len(latest) >= 3, timeout=60)
        broker.stop()
        time.sleep(2)
        broker.start()
        send(settings, messages[half:])
        latest, every = collect_updates(settings, _done(len(messages)), timeout=240)
        if worker.poll() is not None:  # a worker that gave up during the outage is restarted
            worker = start_worker(settings, env)
            latest, every = collect_updates(settings, _done(len(messages)), timeout=240)
    finally:
        stop_worker(worker)
    _check(messages, latest, every, outlets)


def _fuzz_messages(count: int, seed: int = 9) -> list[bytes]:
    import random as _random

    rng = _random.Random(seed)
    good = [v for _, v in _burst(seed=6)]
    out: list[bytes] = []
    for i in range(count):
        kind = i % 10
        base = json.loads(rng.choice(good))
        if kind == 0:
            out.append(bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 200))))
        elif kind == 1:
            text = json.dumps(base).encode()
            out.append(text[: rng.randint(1, len(text) - 1)])
        elif kind == 2:
            base[rng.choice(["id", "source", "body", "published_at"])] = rng.choice(
                [None, 5, [1], {"a": 1}]
            )
            out.append(json.dumps(base).encode())
        elif kind == 3:
            base["body"] = "x" * 30_000
            out.append(json.dumps(base).encode())
        elif kind == 4:
            base["body"] = rng.choice(["", "   ", "\x00\x01\x02", "<p></p>", "Share this article"])
            out.append(json.dumps(base).encode())
        elif kind == 5:
            base["published_at"] = rng.choice(
                ["1066-10-14T00:00:00Z", "9999-01-01T00:00:00Z", "yesterday"]
            )
            out.append(json.dumps(base).encode())
        elif kind == 6:
            out.append(rng.choice([b"[]", b"null", b"42", b'"text"', b"{}"]))
        elif kind == 7:
            base["id"] = f"fuzz-{i}"
            base["body"] = (
                "<html><script>x()</script><p>"
                + base["body"].replace("\n\n", "</p><p>")
                + "</p></html>"
            )
            out.append(json.dumps(base).encode())
        elif kind == 8:
            base["id"] = f"fuzz-{i}"
            base["body"] = base["body"] + "\x07\x1b[31m\u200b"
            base["language"] = rng.choice(["xx", "EN_gb", "", "zz-Latn"])
            out.append(json.dumps(base).encode())
        else:
            out.append(b"\xff\xfe" + json.dumps(base).encode("utf-16-le"))
    return out


def test_fuzzed_input_reaches_the_dlq_exactly_once_and_the_worker_survives(run_env):
    from stream.prepare import Rejected, parse_article
    from tests.harness import dead_letters

    env = {**run_env, "STORYSTREAM_MAX_MESSAGE_BYTES": "20000"}
    settings = settings_for(env)
    ensure_topics(settings)
    payloads = _fuzz_messages(3000)
    bad = []
    for payload in payloads:
        try:
            parse_article(payload, max_bytes=20000)
        except Rejected:
            bad.append(payload)
    assert 2000 < len(bad) < 3000
    worker = start_worker(settings, env)
    try:
        assert wait_until_consuming(settings.bootstrap_servers, settings.app_id)
        send(settings, [(None, p) for p in payloads])
        letters = dead_letters(settings, expected=len(bad), timeout=240)
        assert worker.poll() is None, "the worker died"
    finally:
        stop_worker(worker)
    from collections import Counter

    assert Counter(letter.original() for letter in letters) == Counter(bad)
    assert all(letter.reason and letter.error_type for letter in letters)
