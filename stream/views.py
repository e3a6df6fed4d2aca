"""The read model behind the HTTP API and dashboard: stories as readers query them.

A :class:`StoryView` folds the ``stories.updates`` stream (every version of every story) into the
latest version per story plus each story's history as a list of changes. It is pure, so the same
fold runs in tests, in the worker's web process and in a replay. Versions are idempotent: an
update whose version is not newer than the one held is ignored, so redelivered or replayed
updates change nothing. A story absorbed by another (``merged_from``) leaves the listing and its
id resolves to the story that absorbed it.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from stream.models import StoryUpdate, SummarySentence


class StoriesQuery(BaseModel):
    """Query parameters of ``GET /stories``; anything else is a 400."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    limit: int = Field(default=20, ge=1, le=200)
    offset: int = Field(default=0, ge=0)
    since: datetime | None = Field(
        default=None, description="Stories with coverage at or after this time (ISO 8601)."
    )
    until: datetime | None = Field(
        default=None, description="Stories with coverage at or before this time (ISO 8601)."
    )
    source: str | None = Field(default=None, min_length=1, description="Carried by this outlet.")
    min_sources: int = Field(default=1, ge=1, description="At least this many distinct outlets.")
    q: str | None = Field(
        default=None, min_length=1, max_length=200, description="Words all found in the story."
    )
    order: Literal["recent", "size"] = Field(
        default="recent", description="recent: last updated first; size: most articles first."
    )

    @model_validator(mode="after")
    def _window(self) -> StoriesQuery:
        for name in ("since", "until"):
            value = getattr(self, name)
            if value is not None and value.tzinfo is None:
                raise ValueError(f"{name} needs a time zone, e.g. 2026-11-24T10:00:00Z")
        if self.since and self.until and self.since > self.until:
            raise ValueError("since is after until")
        return self


class StoryCard(BaseModel):
    """A story as listed: its current headline and summary with the figures a reader scans."""

    story_id: str
    version: int
    headline: str
    summary: list[SummarySentence]
    sources: list[str]
    article_count: int
    copies: int = Field(description="Articles that were (near-)duplicates or syndicated copies.")
    first_seen: datetime
    last_event: datetime | None
    updated_at: datetime
    versions: int = Field(description="Versions held in this story's history.")


class StoryPage(BaseModel):
    """One page of ``GET /stories``."""

    items: list[StoryCard]
    total: int = Field(description="Stories matching the filters, over all pages.")
    offset: int
    limit: int


class VersionChange(BaseModel):
    """One version of a story and what changed from the version before it."""

    version: int
    updated_at: datetime
    last_event: datetime | None
    headline: str
    headline_changed: bool
    sentences: list[str]
    added_sentences: list[str]
    removed_sentences: list[str]
    new_sources: list[str]
    article_count: int
    new_articles: int
    merged_from: list[str] = Field(description="Stories absorbed in this version.")


class StoryHistory(BaseModel):
    """``GET /stories/{id}/history``: every version held, oldest first."""

    story_id: str
    versions: list[VersionChange]


class StoryView:
    """Latest version and history of every live story, folded from story updates."""

    def __init__(self, retention: timedelta = timedelta(days=14)) -> None:
        self.retention = retention
        self._latest: dict[str, StoryUpdate] = {}
        self._history: dict[str, list[VersionChange]] = {}
        self._words: dict[str, frozenset[str]] = {}
        """Story id -> the words of its latest version, made when a query first needs them:
        every version of every story is folded, few are ever searched (made for each version,
        they were four fifths of folding one: 47 -> 10 us, and 136 MB of a worker's RSS)."""
        self._absorbed: dict[str, str] = {}
        self._clock: datetime | None = None

    def __len__(self) -> int:
        return len(self._latest)

    def apply(self, update: StoryUpdate) -> VersionChange | None:
        """Fold in one version; returns the change, or None for a version already held."""
        previous = self._latest.get(update.story_id)
        if previous is not None and update.version <= previous.version:
            return None
        change = _change(previous, update)
        self._latest[update.story_id] = update
        self._history.setdefault(update.story_id, []).append(change)
        self._words.pop(update.story_id, None)
        self._absorbed.pop(update.story_id, None)
        for gone in update.merged_from:
            if gone != update.story_id and gone in self._latest:
                self._forget(gone)
            self._absorbed[gone] = update.story_id
        when = update.last_event or update.updated_at
        if self._clock is None or when > self._clock:
            self._clock = when
        return change

    def resolve(self, story_id: str) -> str | None:
        """The id under which ``story_id`` lives now (itself, or the story that absorbed it)."""
        seen = set()
        while story_id not in self._latest and story_id in self._absorbed:
            if story_id in seen:
                return None
            seen.add(story_id)
            story_id = self._absorbed[story_id]
        return story_id if story_id in self._latest else None

    def latest(self, story_id: str) -> StoryUpdate | None:
        """The current version of a story held under exactly this id."""
        return self._latest.get(story_id)

    def card(self, story_id: str) -> StoryCard | None:
        """The listing entry of a story."""
        update = self._latest.get(story_id)
        if update is None:
            return None
        return StoryCard(
            story_id=update.story_id,
            version=update.version,
            headline=update.headline,
            summary=update.sentences,
            sources=update.sources,
            article_count=len(update.article_ids),
            copies=len(update.duplicates) + len(update.syndicated),
            first_seen=update.first_seen,
            last_event=update.last_event,
            updated_at=update.updated_at,
            versions=len(self._history.get(story_id, ())),
        )

    def history(self, story_id: str) -> StoryHistory | None:
        """Every version held of a story, oldest first."""
        if story_id not in self._latest:
            return None
        return StoryHistory(story_id=story_id, versions=list(self._history[story_id]))

    def page(self, query: StoriesQuery) -> StoryPage:
        """The stories matching ``query``, ordered and paged."""
        wanted = _words_of(query.q) if query.q else frozenset()
        matching = [
            update
            for story_id, update in self._latest.items()
            if len(update.sources) >= query.min_sources
            and (query.source is None or query.source in update.sources)
            and (not wanted or wanted <= self._search_words(story_id, update))
            and (query.since is None or (update.last_event or update.updated_at) >= query.since)
            and (query.until is None or update.first_seen <= query.until)
        ]
        if query.order == "size":
            matching.sort(key=lambda u: (len(u.article_ids), u.updated_at), reverse=True)
        else:
            matching.sort(key=lambda u: (u.updated_at, u.version), reverse=True)
        items = []
        for update in matching[query.offset : query.offset + query.limit]:
            card = self.card(update.story_id)
            if card is not None:
                items.append(card)
        return StoryPage(items=items, total=len(matching), offset=query.offset, limit=query.limit)

    def _search_words(self, story_id: str, update: StoryUpdate) -> frozenset[str]:
        words = self._words.get(story_id)
        if words is None:
            words = self._words[story_id] = _words(update)
        return words

    def evict(self) -> list[str]:
        """Forget stories with no coverage for longer than the retention (by event time)."""
        if self._clock is None:
            return []
        horizon = self._clock - self.retention
        gone = [
            story_id
            for story_id, update in self._latest.items()
            if (update.last_event or update.updated_at) < horizon
        ]
        for story_id in gone:
            self._forget(story_id)
        stale = [old for old, new in self._absorbed.items() if self.resolve(new) is None]
        for old in stale:
            del self._absorbed[old]
        return gone

    def _forget(self, story_id: str) -> None:
        self._latest.pop(story_id, None)
        self._history.pop(story_id, None)
        self._words.pop(story_id, None)


_WORD = re.compile(r"\w+")


def _words_of(text: str) -> frozenset[str]:
    return frozenset(word.casefold() for word in _WORD.findall(text))


def _words(update: StoryUpdate) -> frozenset[str]:
    text = " ".join([update.headline, *(s.text for s in update.sentences), *update.sources])
    return _words_of(text)


def _change(previous: StoryUpdate | None, update: StoryUpdate) -> VersionChange:
    before = [s.text for s in previous.sentences] if previous else []
    after = [s.text for s in update.sentences]
    old_sources = set(previous.sources) if previous else set()
    old_merged = set(previous.merged_from) if previous else set()
    old_articles = len(previous.article_ids) if previous else 0
    return VersionChange(
        version=update.version,
        updated_at=update.updated_at,
        last_event=update.last_event,
        headline=update.headline,
        headline_changed=previous is None or previous.headline != update.headline,
        sentences=after,
        added_sentences=[s for s in after if s not in before],
        removed_sentences=[s for s in before if s not in after],
        new_sources=[s for s in update.sources if s not in old_sources],
        article_count=len(update.article_ids),
        new_articles=len(update.article_ids) - old_articles,
        merged_from=[s for s in update.merged_from if s not in old_merged],
    )
