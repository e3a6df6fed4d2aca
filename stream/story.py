"""A story's summary state and the versioned StoryUpdate events it emits.

Pure and serialisable (a pydantic model), so the summary agent keeps one per story in a
changelog-backed table and a restarted worker resumes exactly where the last one stopped.
Versions only grow, and a version is emitted only when the story's visible content changed.
"""

from __future__ import annotations

import hashlib
import json
import threading
import zlib
from datetime import datetime
from functools import cached_property
from typing import Any

import zstandard
from pydantic import BaseModel, Field

from stream.alerts import AlertRules, AlertState, evaluate
from stream.facts import FactPool
from stream.features import remember_tokens
from stream.models import (
    Alert,
    Assignment,
    DedupKind,
    PreparedArticle,
    StoryUpdate,
    SummarySentence,
    construct_trusted,
)
from stream.summarize import SummaryConfig, choose_headline, select
from stream.text import terms

PACK_LEVEL = 1
"""zstd level of a packed state. On the e2e stream's states (10.4 kB of JSON on average) level 1
packs to 2.4 kB in 22 us; zlib's level 1, used before, to 2.5 kB in 65 us, and that was 6 % of
the summary helper's time (py-spy). Higher levels gain a few per cent of bytes for more time."""

_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_codecs = threading.local()


def _zstd() -> tuple[zstandard.ZstdCompressor, zstandard.ZstdDecompressor]:
    """This thread's zstd compressor and decompressor.

    Their contexts are reused between calls (a one-shot call builds one each time, twice the
    cost), and one must not be used by two threads at once.
    """
    pair: tuple[zstandard.ZstdCompressor, zstandard.ZstdDecompressor] | None = getattr(
        _codecs, "pair", None
    )
    if pair is None:
        pair = _codecs.pair = (
            zstandard.ZstdCompressor(level=PACK_LEVEL),
            zstandard.ZstdDecompressor(),
        )
    return pair


MAX_TITLES = 60
"""Distinct titles a story keeps for choosing its headline (the latest ones)."""


class StoryState(BaseModel):
    """Everything needed to produce the next version of one story."""

    story_id: str
    version: int = 0
    first_seen: datetime | None = None
    last_event: datetime | None = None
    updated_at: datetime | None = None
    titles: list[str] = Field(default_factory=list)
    pool: FactPool = Field(default_factory=FactPool)
    selected: list[str] = Field(default_factory=list)
    article_ids: list[str] = Field(default_factory=list)
    sources: list[str] = Field(default_factory=list)
    source_times: dict[str, datetime] = Field(default_factory=dict)
    duplicates: dict[str, str] = Field(default_factory=dict)
    syndicated: dict[str, str] = Field(default_factory=dict)
    merged_from: list[str] = Field(default_factory=list)
    new_facts_since_render: int = 0
    content_hash: str = ""
    absorbed_into: str | None = None
    last_update: str | None = Field(
        default=None, description="JSON of the last emitted version, re-sent on redelivery."
    )
    alerts: AlertState | None = Field(
        default=None, description="The alert rules' memory of this story (see stream.alerts)."
    )

    def pack(self) -> bytes:
        """The state as its table stores it: its JSON, zstd-compressed.

        A busy worker rewrites the state of nearly every story an article reaches (17 kB on
        average on the benchmark stream, mostly fact texts that repeat from write to write).
        Packed, each write is a quarter of that through the pipe from the summary helper,
        the worker's producer, the broker and the changelog.
        """
        return bytes(_zstd()[0].compress(self.json_text().encode()))

    def json_text(self) -> str:
        """The state's JSON (``model_dump_json``'s, byte for byte), its pool from kept JSON.

        The pool's JSON is made by :meth:`FactPool.json_text`, from each fact's JSON kept while
        the fact is unchanged (a busy story's facts mostly are); the fields around it by
        pydantic, as before.
        """
        before = self.model_dump_json(include=_BEFORE_POOL)
        after = self.model_dump_json(include=_AFTER_POOL)
        return f'{before[:-1]},"pool":{self.pool.json_text()},{after[1:]}'

    @classmethod
    def unpack(cls, stored: bytes | str) -> StoryState:
        """Read a state back from :meth:`pack`, or from what earlier versions stored.

        Earlier versions stored the JSON text through faust's json codec (a quoted string),
        then zlib-compressed JSON: a worker upgraded over an existing changelog reads those
        states as they are (each format tells itself apart by its first bytes).
        """
        if isinstance(stored, bytes) and stored[:1] == b'"':
            stored = json.loads(stored)
        if isinstance(stored, bytes) and stored[:4] == _ZSTD_MAGIC:
            stored = _zstd()[1].decompress(stored)
        elif isinstance(stored, bytes) and stored[:1] != b"{":
            stored = zlib.decompress(stored)
        return cls.model_validate_json(stored)

    def add(self, article: PreparedArticle, copy_of: str | None = None, kind: str = "") -> bool:
        """Add an article; returns False when it was already here (a producer retry)."""
        if article.id in self.article_ids:
            return False
        remember_tokens(article)
        self.article_ids.append(article.id)
        if article.source not in self.sources:
            self.sources.append(article.source)
        if article.title:
            self._note_title(article.title)
        if copy_of and kind == DedupKind.DUPLICATE:
            self.duplicates[article.id] = copy_of
        elif copy_of and kind == DedupKind.SYNDICATED:
            self.syndicated[article.id] = copy_of
        # A syndicated copy may carry new paragraphs: its novel sentences are fair candidates.
        duplicate_only = copy_of if kind == DedupKind.DUPLICATE else None
        new = self.pool.add_article(article, copy_of=duplicate_only)
        self.new_facts_since_render += len(new)
        when = article.event_time
        known = self.source_times.get(article.source)
        self.source_times[article.source] = when if known is None else min(known, when)
        self.first_seen = min(self.first_seen or when, when)
        self.last_event = max(self.last_event or when, when)
        return True

    @cached_property
    def title_terms(self) -> dict[str, list[str]]:
        """Terms of the titles, as the headline is chosen from them (see :meth:`_terms_of_title`).

        Not serialised: kept while the state is kept parsed.
        """
        return {}

    def _terms_of_title(self, title: str) -> list[str]:
        """A title's terms, tokenised once while the state is parsed.

        The headline is chosen on every version from up to ``MAX_TITLES`` titles; their stems
        were looked up in :mod:`stream.text`'s store of recent sentences, which a busy stream
        turns over in seconds, so most titles of a story were tokenised again each version
        (4 % of the summary work's instructions, ``bench/replay.py --stage summary --count``).
        """
        known = self.title_terms
        found = known.get(title)
        if found is None:
            if len(known) >= 2 * MAX_TITLES:  # titles let go of: start again
                known.clear()
            found = known[title] = terms(title)
        return found

    def _note_title(self, title: str) -> None:
        """Keep the story's distinct titles, the latest ``MAX_TITLES`` of them.

        The headline is chosen by centrality among them, quadratic in their number: a story of
        thousands of articles must not carry (and compare) thousands of titles.
        """
        if title in self.titles:
            return
        self.titles.append(title)
        if len(self.titles) > MAX_TITLES:
            del self.titles[0]

    def apply(self, assignment: Assignment) -> bool:
        """Apply an ``article`` or ``absorb`` command; returns whether anything changed."""
        if assignment.kind == "absorb" and assignment.state is not None:
            other = StoryState.model_validate(assignment.state)
            if other.story_id in self.merged_from:
                return False  # a replayed hand-over
            self.absorb(other)
            return True
        if assignment.article is None:
            return False
        return self.add(assignment.article, assignment.dedup.of, assignment.dedup.kind)

    def absorb(self, other: StoryState) -> None:
        """Take over a story that the clusterer merged into this one."""
        for article_id in other.article_ids:
            if article_id not in self.article_ids:
                self.article_ids.append(article_id)
        self.sources.extend(s for s in other.sources if s not in self.sources)
        for source, when in other.source_times.items():
            known = self.source_times.get(source)
            self.source_times[source] = when if known is None else min(known, when)
        for title in other.titles:
            self._note_title(title)
        self.duplicates.update(other.duplicates)
        self.syndicated.update(other.syndicated)
        self.pool.absorb(other.pool)
        self.merged_from.extend(
            s for s in [other.story_id, *other.merged_from] if s not in self.merged_from
        )
        if other.first_seen and (self.first_seen is None or other.first_seen < self.first_seen):
            self.first_seen = other.first_seen
        if other.last_event and (self.last_event is None or other.last_event > self.last_event):
            self.last_event = other.last_event
        self.new_facts_since_render += len(other.pool.facts)

    def render(self, now: datetime, config: SummaryConfig | None = None) -> StoryUpdate | None:
        """Produce the next version, or None when nothing a reader sees has changed."""
        config = config or SummaryConfig()
        if self.new_facts_since_render or not self.selected:
            picked = select(
                self.pool.facts,
                config,
                previous=self.selected,
                carriers=self.pool.concept_articles,
            )
        else:
            # No new fact: keep the summary exactly; only attributions and lists may grow.
            by_text = {f.text: f for f in self.pool.facts}
            picked = [by_text[t] for t in self.selected if t in by_text]
        headline = choose_headline(self.titles, picked or self.pool.facts, self._terms_of_title)
        # Built from our own validated state: constructed, not re-validated (pydantic's
        # validation of every version's lists and maps was 5 % of the core, profiled).
        fields: list[dict[str, Any]] = [
            {"text": f.text, "article_ids": list(f.article_ids), "sources": list(f.sources)}
            for f in picked
        ]
        sentences = [construct_trusted(SummarySentence, **f) for f in fields]
        digest = hashlib.blake2b(
            repr(
                (
                    headline,
                    fields,  # what model_dump gives for each sentence
                    self.article_ids,
                    self.sources,
                    self.merged_from,
                )
            ).encode(),
            digest_size=16,
        ).hexdigest()
        self.new_facts_since_render = 0
        if digest == self.content_hash:
            return None
        previous = set(self.selected)
        self.selected = [f.text for f in picked]
        self.content_hash = digest
        self.version += 1
        self.updated_at = now
        return construct_trusted(
            StoryUpdate,
            story_id=self.story_id,
            version=self.version,
            updated_at=now,
            first_seen=self.first_seen or now,
            last_event=self.last_event,
            headline=headline,
            sentences=sentences,
            new_sentences=[t for t in self.selected if t not in previous],
            article_ids=list(self.article_ids),
            sources=list(self.sources),
            source_times=dict(self.source_times),
            duplicates=dict(self.duplicates),
            syndicated=dict(self.syndicated),
            merged_from=list(self.merged_from),
        )

    def alerts_for(self, update: StoryUpdate, rules: AlertRules, now: datetime) -> list[Alert]:
        """The alerts this version fires (or fired, when it is a redelivered one).

        Evaluated where versions are made, with the rules' memory in this state: it is written
        and flushed with the state before the version and its alerts are sent, so a crash
        re-sends the same alerts (same ``alert_id``) and never fires a rule twice.
        """
        if self.alerts is None:
            self.alerts = AlertState(story_id=self.story_id)
        return evaluate(self.alerts, update, rules, now=now)


_FIELDS = list(StoryState.model_fields)
_BEFORE_POOL = set(_FIELDS[: _FIELDS.index("pool")])
_AFTER_POOL = set(_FIELDS[_FIELDS.index("pool") + 1 :])
"""The fields serialised before and after the pool, in :meth:`StoryState.json_text`."""
