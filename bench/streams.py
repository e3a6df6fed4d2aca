"""A labelled news stream for clustering benchmarks (our own generator; see bench/synth.py).

Shape, chosen to contain what makes event clustering hard:

- many concurrent stories over several weeks, sizes from a long tail (most stories 1-5 articles,
  a few with dozens);
- recurring topics: several distinct events share a topic's words and places (two earthquakes
  in one country, two matches of the same teams), days or weeks apart;
- long-running stories: coverage on several days, each day adding new words and names while
  keeping the story's core;
- wire copies and light rewrites of another outlet's article.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bench.synth import Event, article_paragraphs, edit_words, make_event, make_topic, title

START = datetime(2026, 9, 1, tzinfo=UTC)
OUTLETS = [f"Outlet {i:02d}" for i in range(24)]


@dataclass
class Labelled:
    """One article of the stream with its gold event."""

    article: dict[str, object]
    event_id: str


def _size(rng: random.Random) -> int:
    return min(80, int(rng.paretovariate(1.1)))


def make_stream(seed: int, topics: int = 60, weeks: int = 6) -> list[Labelled]:
    """Articles of many events, sorted by publish time, labelled with their event."""
    rng = random.Random(seed)
    items: list[Labelled] = []
    counter = 0
    for t in range(topics):
        topic = make_topic(rng)
        for e in range(rng.choice([1, 1, 2, 2, 3, 4])):  # recurring topic: several events
            start = START + timedelta(hours=rng.uniform(0, weeks * 7 * 24))
            event = make_event(rng, topic, start, event_id=f"t{t}e{e}")
            size = _size(rng)
            long_running = size > 8 and rng.random() < 0.5
            published: list[tuple[list[str], str]] = []
            for _ in range(size):
                day = int(rng.expovariate(0.35)) if long_running else 0
                hours = day * 24 + rng.uniform(0, 24 if long_running else 36)
                day_event = _develop(rng, event, day)
                if published and rng.random() < 0.15:  # a wire copy or light rewrite
                    paragraphs, heading = rng.choice(published)
                    if rng.random() < 0.5:
                        paragraphs = edit_words(rng, paragraphs, 0.1)
                else:
                    paragraphs, heading = article_paragraphs(rng, day_event), title(rng, day_event)
                    published.append((paragraphs, heading))
                counter += 1
                items.append(
                    Labelled(
                        article={
                            "id": f"a{counter}",
                            "source": rng.choice(OUTLETS),
                            "title": heading,
                            "body": "\n\n".join(paragraphs),
                            "published_at": (start + timedelta(hours=hours)).isoformat(),
                            "language": "en",
                        },
                        event_id=event.event_id,
                    )
                )
    items.sort(key=lambda item: str(item.article["published_at"]))
    return items


def _develop(rng: random.Random, event: Event, day: int) -> Event:
    """The event as reported on a later day: same core, some new words and a new name."""
    if day == 0:
        return event
    local = random.Random(f"{event.event_id}:{day}")  # str seeds are stable across runs
    extra = make_event(local, event.topic)
    return Event(
        event_id=event.event_id,
        topic=event.topic,
        start=event.start,
        people=event.people[:2] + extra.people[:1],
        places=event.places,
        numbers=event.numbers[:1] + extra.numbers[:2],
        words=event.words[:3] + extra.words[:2],
        quotes=event.quotes[:1] + extra.quotes[:2],
    )
