"""Synthetic news for benchmarks: our own generator, no copied text.

Real news has statistics a benchmark must respect, or thresholds fitted on it mean nothing:

- a Zipfian vocabulary: a few words ("government", "police") everywhere, most words rare;
- function words between content words, so word bigrams like "of the" are shared by everything;
- an *event* owns names (people, places), numbers, topic words and a few quotes; every outlet's
  article on it draws on those, with its own wording: same-story rewrites share names, topic
  words and sometimes a verbatim quote (the hard negative for dedup), but few phrases;
- two *events* can share a place and a topic (two earthquakes in one country) but not their
  specifics (towns, casualties, days): the hard negative for clustering.

The content words are pseudo-words built from syllables, so no real text is reproduced.
"""

from __future__ import annotations

import bisect
import itertools
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

_SYL = (
    "ba ka lo mi ra ven dor sel tas bri an gor lin mar fel ost ru pe zan hol tri val ber cas "
    "un del po si ne tor qua lem vin ach ur es ti mon gal rid sen fa ho ja wen"
).split()
FUNCTION = (
    "the of to in and a for on that with by at as from after said was were is are has "
    "had have will would its their his her about over under into than more but not also "
    "be been who which when while this".split()
)


def _pseudo(rng: random.Random, parts: int) -> str:
    return "".join(rng.choice(_SYL) for _ in range(parts))


class Lexicon:
    """A Zipfian vocabulary of pseudo content words."""

    def __init__(self, size: int = 6000, seed: int = 1) -> None:
        rng = random.Random(seed)
        words: set[str] = set()
        while len(words) < size:
            words.add(_pseudo(rng, rng.choice((2, 2, 3, 3, 4))))
        self.words = sorted(words)
        rng.shuffle(self.words)
        weights = [1.0 / (rank + 1) ** 1.05 for rank in range(size)]
        self._cumulative = list(itertools.accumulate(weights))

    def sample(self, rng: random.Random) -> str:
        x = rng.random() * self._cumulative[-1]
        return self.words[bisect.bisect_left(self._cumulative, x)]


LEXICON = Lexicon()


def _name(rng: random.Random) -> str:
    return f"{_pseudo(rng, 2).capitalize()} {_pseudo(rng, rng.choice((2, 3))).capitalize()}"


@dataclass
class Topic:
    """A recurring subject (e.g. earthquakes in one country): shared by several events.

    Events of one topic share its words, its places and some of its people (the same minister
    comments on both earthquakes); only a few words, towns, numbers and names are their own.
    """

    words: list[str]
    places: list[str]
    people: list[str] = field(default_factory=list)


@dataclass
class Event:
    """One real-world event: what its articles draw on."""

    event_id: str
    topic: Topic
    start: datetime
    people: list[str]
    places: list[str]
    numbers: list[str]
    words: list[str]
    quotes: list[str] = field(default_factory=list)


def make_topic(rng: random.Random) -> Topic:
    return Topic(
        words=[LEXICON.sample(rng) for _ in range(8)] + [_pseudo(rng, 3) for _ in range(6)],
        places=[_pseudo(rng, 3).capitalize() for _ in range(2)],
        people=[_name(rng) for _ in range(2)],
    )


def make_event(
    rng: random.Random,
    topic: Topic | None = None,
    start: datetime | None = None,
    event_id: str = "",
) -> Event:
    topic = topic or make_topic(rng)
    event = Event(
        event_id=event_id,
        topic=topic,
        start=start or datetime(2026, 1, 1, tzinfo=UTC),
        people=topic.people[:1] + [_name(rng) for _ in range(2)],
        places=[_pseudo(rng, 3).capitalize() for _ in range(2)],
        numbers=[str(rng.randint(2, 990)) for _ in range(3)],
        words=[_pseudo(rng, 3) for _ in range(4)],
    )
    event.quotes = [sentence(rng, event, words=rng.randint(12, 20)) for _ in range(3)]
    return event


def sentence(rng: random.Random, event: Event, words: int | None = None) -> str:
    """One sentence drawing on the event's names, numbers and words, with its own wording."""
    n = words or rng.randint(14, 30)
    tokens: list[str] = []
    while len(tokens) < n:
        roll = rng.random()
        if roll < 0.42:
            tokens.append(rng.choice(FUNCTION))
        elif roll < 0.46:
            tokens.append(rng.choice(event.words))
        elif roll < 0.58:
            tokens.append(rng.choice(event.topic.words))
        elif roll < 0.62:
            tokens.extend(rng.choice(event.people).split())
        elif roll < 0.66:
            tokens.append(rng.choice(event.places + event.topic.places))
        elif roll < 0.68:
            tokens.append(rng.choice(event.numbers))
        else:
            tokens.append(LEXICON.sample(rng))
    text = " ".join(tokens)
    return text[0].upper() + text[1:] + "."


def article_paragraphs(
    rng: random.Random, event: Event, paragraphs: int | None = None, quote_rate: float = 0.4
) -> list[str]:
    """An outlet's article: paragraphs of 1-3 sentences, sometimes carrying an event quote."""
    out = []
    for _ in range(paragraphs or rng.randint(4, 9)):
        sentences = [sentence(rng, event) for _ in range(rng.randint(1, 3))]
        if rng.random() < quote_rate / 3:
            sentences.append(f'"{rng.choice(event.quotes)[:-1]}," {rng.choice(event.people)} said.')
        out.append(" ".join(sentences))
    return out


def title(rng: random.Random, event: Event) -> str:
    words = [
        rng.choice(event.words),
        rng.choice(event.topic.words),
        rng.choice(FUNCTION),
        rng.choice(event.places),
        LEXICON.sample(rng),
        rng.choice(event.topic.words),
    ]
    rng.shuffle(words)
    return " ".join(words).capitalize()


def edit_words(rng: random.Random, paragraphs: list[str], share: float) -> list[str]:
    """Replace ``share`` of the words with other words (an editor's rewrite)."""
    out = []
    for paragraph in paragraphs:
        words = paragraph.split()
        for i, word in enumerate(words):
            if rng.random() < share:
                tail = word[-1] if word[-1] in '.,;"' else ""
                words[i] = LEXICON.sample(rng) + tail
        out.append(" ".join(words))
    return out


def at(start: datetime, hours: float) -> datetime:
    return start + timedelta(hours=hours)
