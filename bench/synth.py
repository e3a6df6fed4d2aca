"""Synthetic news for benchmarks: our own generator, no copied text.

An *event* is a set of facts (who, what, where, numbers). An outlet's *article* renders a subset
of those facts with its own phrasing, so two articles on one event share names and numbers but not
wording: the hard negative for dedup. Copies are derived by programmatic edits.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

SYL = "ka lo mi ra ven dor sel tas bri an gor lin mar fel ost ru pe zan hol tri val ber cas un".split()
NOUNS = """harbour council ministry union court budget strike vote inquiry bridge hospital school
airport factory reservoir railway police army election treaty tariff storm flood fire quake
market bank inflation pension contract merger lawsuit protest summit parliament senate mayor
governor company shares investors workers farmers teachers doctors nurses pilots miners""".split()
VERBS = """approved rejected announced delayed criticised defended postponed confirmed denied
launched suspended expanded reduced increased blocked signed opened closed warned promised""".split()
ADJ = """new major local national regional emergency temporary final early late senior former
joint public private large small sudden long short""".split()
DAYS = "Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split()
TEMPLATES = [
    "{p} said on {d} that the {a} {n} had {v} the plan for the {n2}.",
    "The {n} {v} a {a} proposal on {d}, according to {p}.",
    "{p}, who leads the {n}, told reporters the {n2} would be {v} by {num} percent.",
    "Officials in {c} {v} the {a} {n} after {num} people joined the {n2}.",
    "The decision by the {n} to {vb} the {n2} came after weeks of talks in {c}.",
    "About {num} {n} were affected, {p} said, adding that the {n2} remained {a}.",
    "Critics of the {n} in {c} said the {a} {n2} had been {v} without consultation.",
    "{p} is expected to meet the {n} in {c} on {d} to discuss the {n2}.",
    "The {a} {n} in {c} has {v} its forecast, citing the {n2}.",
    "Residents of {c} said the {n} had {v} services for {num} days.",
]


def name(rng: random.Random, parts: int = 2) -> str:
    return "".join(rng.choice(SYL) for _ in range(parts)).capitalize()


@dataclass
class Event:
    people: list[str]
    places: list[str]
    nouns: list[str]
    numbers: list[int]


def make_event(rng: random.Random) -> Event:
    return Event(
        people=[f"{name(rng)} {name(rng, 3)}" for _ in range(3)],
        places=[name(rng, 3) for _ in range(2)],
        nouns=rng.sample(NOUNS, 5),
        numbers=[rng.randint(2, 900) for _ in range(3)],
    )


def sentence(rng: random.Random, event: Event) -> str:
    template = rng.choice(TEMPLATES)
    return template.format(
        p=rng.choice(event.people), d=rng.choice(DAYS), a=rng.choice(ADJ), n=rng.choice(event.nouns),
        n2=rng.choice(event.nouns), v=rng.choice(VERBS), vb=rng.choice(VERBS)[:-2] or "stop",
        num=rng.choice(event.numbers), c=rng.choice(event.places),
    )


def article_text(rng: random.Random, event: Event, paragraphs: int = 6) -> list[str]:
    """Paragraphs of 2-3 sentences about the event."""
    return [" ".join(sentence(rng, event) for _ in range(rng.randint(2, 3))) for _ in range(paragraphs)]


def edit_words(rng: random.Random, paragraphs: list[str], share: float) -> list[str]:
    """Replace ``share`` of the words with other words (an editor's light rewrite)."""
    out = []
    pool = NOUNS + VERBS + ADJ
    for paragraph in paragraphs:
        words = paragraph.split()
        for i in range(len(words)):
            if rng.random() < share:
                tail = words[i][-1] if words[i][-1] in ".,;" else ""
                words[i] = rng.choice(pool) + tail
        out.append(" ".join(words))
    return out
