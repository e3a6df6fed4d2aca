"""Drive a real worker process against a real broker from tests."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from agents.demo import start_worker, stop_worker, wait_until_consuming
from agents.feeds import make_consumer, make_producer
from agents.settings import Settings
from agents.topics import ensure_topics
from stream.models import DeadLetter, StoryUpdate


def settings_for(env: dict[str, str]) -> Settings:
    return Settings.for_environment(env)


@contextmanager
def running_worker(env: dict[str, str]) -> Iterator[Settings]:
    settings = settings_for(env)
    Path(settings.state_dir).mkdir(parents=True, exist_ok=True)
    ensure_topics(settings)
    process = start_worker(settings, env)
    try:
        assert wait_until_consuming(settings.bootstrap_servers, settings.app_id), (
            "worker never joined"
        )
        yield settings
    finally:
        stop_worker(process)


def send(settings: Settings, messages: Iterable[tuple[bytes | None, bytes]]) -> None:
    producer = make_producer(settings.bootstrap_servers)
    try:
        for key, value in messages:
            producer.send(settings.topics["raw"], key=key, value=value)
        producer.flush()
    finally:
        producer.close()


def collect_updates(
    settings: Settings, done: Callable[[dict[str, StoryUpdate]], bool], timeout: float = 90.0
) -> tuple[dict[str, StoryUpdate], list[StoryUpdate]]:
    """Read stories.updates until ``done(latest_by_story)`` holds, then a short quiet period."""
    consumer = make_consumer(settings.bootstrap_servers, settings.topics["updates"])
    latest: dict[str, StoryUpdate] = {}
    every: list[StoryUpdate] = []
    deadline = time.monotonic() + timeout
    satisfied_at: float | None = None
    try:
        while time.monotonic() < deadline:
            for message in consumer:
                update = StoryUpdate.model_validate_json(message.value)
                every.append(update)
                if update.version >= latest.get(update.story_id, update).version:
                    latest[update.story_id] = update
            if done(latest):
                satisfied_at = satisfied_at or time.monotonic()
                if time.monotonic() - satisfied_at > 3:
                    break
            else:
                satisfied_at = None
    finally:
        consumer.close()
    return latest, every


def dead_letters(settings: Settings, expected: int, timeout: float = 60.0) -> list[DeadLetter]:
    consumer = make_consumer(settings.bootstrap_servers, settings.topics["dlq"])
    found: list[DeadLetter] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and len(found) < expected:
            found.extend(DeadLetter.model_validate_json(m.value) for m in consumer)
        time.sleep(1)
        found.extend(DeadLetter.model_validate_json(m.value) for m in consumer)
    finally:
        consumer.close()
    return found
