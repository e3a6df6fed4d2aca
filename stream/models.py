"""The messages storystream reads and writes: public contracts for downstream teams.

Every Kafka message is one of these pydantic models. Unknown fields are kept (``extra="allow"``)
so producers can add metadata without breaking us, and so we never drop what we do not understand.
JSON Schemas in ``schemas/`` are generated from these classes (``make schemas``).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator


def utc_now() -> datetime:
    """Return the current time, always timezone-aware (news timestamps without a zone lie)."""
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """Read a naive time as UTC and convert an aware one to UTC, so times compare safely."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


_Model = TypeVar("_Model", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class _Shape:
    names: tuple[str, ...]
    """The fields, in order: pydantic serialises a model that allows extra fields in the order
    of its ``__dict__``."""
    fields: set[str]
    extra_allowed: bool
    """``model_construct`` leaves {} in ``__pydantic_extra__`` then, else None."""
    plain: bool
    """No post-init hook: nothing to run after the fields are set."""


_SHAPES: dict[type[BaseModel], _Shape] = {}


def _shape(model: type[BaseModel]) -> _Shape:
    shape = _SHAPES.get(model)
    if shape is None:
        names = tuple(model.model_fields)
        allowed = model.model_config.get("extra") == "allow"
        plain = model.__pydantic_post_init__ is None
        shape = _SHAPES[model] = _Shape(names, set(names), allowed, plain)
    return shape


def every_field(model: type[BaseModel]) -> set[str]:
    """The names of a model's fields: one set per model, shared by its trusted instances."""
    return _shape(model).fields


def construct_trusted(model: type[_Model], **values: Any) -> _Model:
    """What ``model.model_construct(**values)`` builds, from values we made, every field given.

    ``model_construct`` walks each field's aliases and defaults in Python: 4.7 us a fact
    against 1.8-2.1 us here, and the summary helper makes 16 models an article (facts,
    summary sentences, versions). The instance is set up as ``model_construct`` sets it up (its
    fields in order), except that it shares the model's one set of field names (all are set;
    pydantic only ever adds names to that set). Anything else (a field missing or unknown, a
    post-init hook) goes through ``model_construct``.
    """
    shape = _SHAPES.get(model) or _shape(model)
    if tuple(values) != shape.names:
        if values.keys() != shape.fields or not shape.plain:
            return model.model_construct(**values)
        values = {name: values[name] for name in shape.names}
    elif not shape.plain:
        return model.model_construct(**values)
    instance = model.__new__(model)
    _set = object.__setattr__
    _set(instance, "__dict__", values)
    _set(instance, "__pydantic_fields_set__", shape.fields)
    _set(instance, "__pydantic_extra__", {} if shape.extra_allowed else None)
    _set(instance, "__pydantic_private__", None)
    return instance


class _Message(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class Article(_Message):
    """One news article as it arrives on ``articles.raw`` (after ninjs mapping, if any).

    Example:
        >>> Article(id="a1", source="Daily Planet", body="Text.").published_at is None
        True
    """

    id: Annotated[str, Field(min_length=1, max_length=512)]
    source: Annotated[str, Field(min_length=1, max_length=256, description="Outlet name.")]
    title: str = ""
    body: Annotated[str, Field(description="Plain text; HTML is converted on ingest.")]
    url: str | None = None
    published_at: datetime | None = Field(
        default=None, description="ISO 8601; a time without a zone is read as UTC."
    )
    language: str | None = Field(default=None, description="ISO 639-1 code, e.g. 'en'.")
    byline: str | None = None
    section: str | None = None

    @field_validator("id", "source")
    @classmethod
    def _strip_required(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("must not be blank")
        return value

    @field_validator("published_at")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        return None if value is None else as_utc(value)

    @field_validator("language")
    @classmethod
    def _lang(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        return value.strip().lower().replace("_", "-").split("-")[0]


class ArticleTokens(_Message):
    """An article's tokens, computed once by the prepare stage and carried to every later one.

    Tokenising is a fifth of the per-article work; the prepare stage is partitioned by article,
    so it runs beside the rest (in the worker's helper process, or on any worker), while the
    clustering stage, partitioned by section, is the one that must not spend time on it.
    Stems are :func:`stream.text.encode_stems` strings: one a sentence, space-separated.
    """

    title: str = ""
    sentences: list[str] = Field(default_factory=list)
    entities: list[str] = Field(default_factory=list)
    words: int = 0
    content_hash: str = ""


class PreparedArticle(Article):
    """An article after validation and cleaning: what flows between our agents.

    Sentences are split once here and carried along, so no later stage re-splits the text;
    ``tokens``, when present, carries their stems too. The body is left out of the messages
    between stages (:data:`WIRE_EXCLUDE`): no stage after cleaning reads it, and it was a third
    of every prepared article, assignment and cluster-log entry.
    """

    body: str = Field(
        default="",
        description="The cleaned text. Not carried between stages, which read ``sentences``.",
    )
    sentences: list[str] = Field(default_factory=list)
    paragraph_starts: list[int] = Field(
        default_factory=list, description="Index into sentences where each paragraph begins."
    )
    received_at: datetime = Field(default_factory=utc_now)
    tokens: ArticleTokens | None = None

    @property
    def event_time(self) -> datetime:
        """When the article happened for clustering: its publish time, else when we saw it."""
        return self.published_at or as_utc(self.received_at)


WIRE_EXCLUDE = frozenset({"body"})
"""Fields of a PreparedArticle not sent to ``articles.prepared`` (see PreparedArticle)."""


class DedupKind(StrEnum):
    """What dedup decided about an article."""

    UNIQUE = "unique"
    DUPLICATE = "duplicate_of"
    SYNDICATED = "syndicated_from"


class DedupVerdict(_Message):
    """Dedup's decision, with the article it copies when it is a copy."""

    kind: DedupKind = DedupKind.UNIQUE
    of: str | None = None

    def label(self) -> str:
        """Render as the CLI does: ``unique``, ``duplicate_of:<id>`` or ``syndicated_from:<id>``."""
        return self.kind.value if self.of is None else f"{self.kind.value}:{self.of}"


class Assignment(_Message):
    """Internal command to the summary agent (topic ``stories.assignments``, key = ``story_id``).

    ``article``: add an article to the story. ``merge``: the story was absorbed by ``into``, so
    hand its state over. ``absorb``: take over ``state``, a story merged into this one. Every
    command is keyed by the story it changes, so each story's state lives in one partition.
    """

    kind: Literal["article", "merge", "absorb"] = "article"
    story_id: str
    article: PreparedArticle | None = None
    dedup: DedupVerdict = Field(default_factory=DedupVerdict)
    merged_from: list[str] = Field(default_factory=list)
    into: str | None = None
    state: dict[str, object] | None = None


class SummarySentence(_Message):
    """One summary sentence and every article and outlet that carried it."""

    text: str
    article_ids: list[str]
    sources: list[str]


class StoryUpdate(_Message):
    """A new version of a story (topic ``stories.updates``, key = story id).

    Versions start at 1 and only grow; a replay re-emits the same content for the same version,
    so consumers can deduplicate on ``(story_id, version)``.
    """

    story_id: str
    version: Annotated[int, Field(ge=1)]
    updated_at: datetime
    first_seen: datetime
    last_event: datetime | None = Field(
        default=None, description="Publication (event) time of the story's newest article."
    )
    headline: str
    sentences: list[SummarySentence]
    new_sentences: list[str] = Field(default_factory=list)
    article_ids: list[str]
    sources: list[str]
    source_times: dict[str, datetime] = Field(
        default_factory=dict,
        description="Outlet -> publication time of its first article in the story.",
    )
    duplicates: dict[str, str] = Field(
        default_factory=dict, description="Article id -> the article it copies (near-)verbatim."
    )
    syndicated: dict[str, str] = Field(
        default_factory=dict, description="Article id -> the article most of its text comes from."
    )
    merged_from: list[str] = Field(default_factory=list)


class MergeEvent(_Message):
    """Two live stories turned out to be one: ``story_id`` absorbed ``merged_from``."""

    event: Literal["merge"] = "merge"
    story_id: str
    merged_from: list[str]
    at: datetime


class DeadLetter(_Message):
    """A rejected input message (topic ``articles.dlq``), kept whole with the reason."""

    reason: str
    error_type: str
    payload: str = Field(description="The original message bytes, base64.")
    received_at: datetime = Field(default_factory=utc_now)
    topic: str | None = None
    partition: int | None = None
    offset: int | None = None

    @classmethod
    def for_payload(
        cls, payload: bytes, reason: str, error_type: str, **where: object
    ) -> DeadLetter:
        """Wrap raw bytes and a readable reason into a dead letter."""
        return cls(
            reason=reason,
            error_type=error_type,
            payload=base64.b64encode(payload).decode("ascii"),
            **where,
        )

    def original(self) -> bytes:
        """Return the original message bytes."""
        return base64.b64decode(self.payload)


class Alert(_Message):
    """A story crossed an alert rule (topic ``stories.alerts``, key = story id).

    Each rule fires at most once per story; ``alert_id`` is ``<story_id>:<rule>``, so a consumer
    that sees a redelivered alert can drop it.
    """

    alert_id: str
    rule: Literal["breaking", "resumed"]
    story_id: str
    version: Annotated[int, Field(ge=1)]
    headline: str
    sources: list[str]
    article_count: int
    reason: str = Field(description="Why the rule fired, in words, with the figures.")
    event_time: datetime = Field(description="Event time of the update that fired the rule.")
    fired_at: datetime


PUBLIC_MODELS: dict[str, type[BaseModel]] = {
    "article": Article,
    "story_update": StoryUpdate,
    "dead_letter": DeadLetter,
    "merge_event": MergeEvent,
    "alert": Alert,
}
"""Models whose JSON Schema is published in ``schemas/``."""
