"""From raw message bytes to a validated, cleaned article, or a readable rejection.

Pure: the agent hands bytes in and routes the result; every way a message can be bad ends in a
:class:`Rejected` with a reason a human understands, so the dead-letter topic explains itself.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError

from stream.clean import clean_paragraphs, guess_title, is_chrome, normalize_text, strip_title
from stream.models import Article, PreparedArticle, as_utc, utc_now
from stream.text import split_sentences

MAX_MESSAGE_BYTES = 1_000_000
"""Default size limit: a news article is rarely over 100 kB; a megabyte is a scraper accident."""

MAX_SENTENCE_CHARS = 2_000
"""Sentences longer than this are run-on scraper output (tables, lists) and are cut out."""

EARLIEST_PLAUSIBLE = datetime(1990, 1, 1, tzinfo=UTC)


class Rejected(Exception):
    """A message that cannot become an article, with a reason for the dead-letter topic."""

    def __init__(self, reason: str, error_type: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.error_type = error_type


def _first(value: Any) -> Any:
    return value[0] if isinstance(value, list) and value else value


def _ninjs_text(items: Any, *roles: str) -> str | None:
    """Pick the text of a ninjs ``headlines``/``bodies`` list, preferring the given roles."""
    if not isinstance(items, list) or not items:
        return None
    dicts = [item for item in items if isinstance(item, dict)]
    for role in roles:
        for item in dicts:
            if item.get("role") == role and isinstance(item.get("value"), str):
                return str(item["value"])
    first = dicts[0].get("value") if dicts else None
    return first if isinstance(first, str) else None


def _is_ninjs(data: dict[str, Any]) -> bool:
    return "uri" in data and "id" not in data


def from_ninjs(data: dict[str, Any], default_source: str = "unknown") -> dict[str, Any]:
    """Map an IPTC ninjs 2.x/3.x text item to our Article fields.

    Example:
        >>> from_ninjs({"uri": "urn:x:1", "headline": "H", "body_text": "B"})["id"]
        'urn:x:1'
    """
    by = data.get("by") or data.get("byline")
    source = data.get("copyrightholder") or data.get("copyrightHolder") or data.get("provider")
    if isinstance(source, dict):
        source = source.get("name")
    mapped = {
        "id": data.get("uri"),
        "source": source or default_source,
        "title": data.get("headline")
        or _ninjs_text(data.get("headlines"), "main", "default")
        or "",
        "body": data.get("body_text")
        or _ninjs_text(data.get("bodies"), "text", "main", "default")
        or data.get("body_html")
        or data.get("body"),
        "url": _first(data.get("uri")) if str(data.get("uri", "")).startswith("http") else None,
        "published_at": data.get("versioncreated")
        or data.get("versionCreated")
        or data.get("firstcreated")
        or data.get("firstCreated"),
        "language": data.get("language"),
        "byline": by if isinstance(by, str) else None,
    }
    extras = {k: v for k, v in data.items() if k not in mapped and k not in {"headlines", "bodies"}}
    return {**extras, **{k: v for k, v in mapped.items() if v is not None}}


def _describe(error: ValidationError) -> str:
    parts = []
    for item in error.errors()[:5]:
        where = ".".join(str(p) for p in item["loc"]) or "message"
        parts.append(f"{where}: {item['msg']}")
    return "; ".join(parts)


def parse_article(
    payload: bytes,
    *,
    max_bytes: int = MAX_MESSAGE_BYTES,
    default_source: str = "unknown",
    now: datetime | None = None,
) -> PreparedArticle:
    """Validate and clean one raw message.

    Raises:
        Rejected: with a readable reason, when the message cannot become an article.
    """
    if len(payload) > max_bytes:
        raise Rejected(
            f"message is {len(payload)} bytes, over the {max_bytes}-byte limit", "too_large"
        )
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Rejected(f"not valid UTF-8 at byte {exc.start}", "encoding") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise Rejected(
            f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}", "json"
        ) from exc
    if not isinstance(data, dict):
        raise Rejected(f"expected a JSON object, got {type(data).__name__}", "wrong_type")
    if _is_ninjs(data):
        data = from_ninjs(data, default_source)
    try:
        article = Article.model_validate(data)
    except ValidationError as exc:
        raise Rejected(f"invalid article: {_describe(exc)}", "validation") from exc
    return prepare(article, now=now)


def prepare(article: Article, *, now: datetime | None = None) -> PreparedArticle:
    """Clean an already-valid article: text to paragraphs and sentences, title, sane dates.

    Raises:
        Rejected: when nothing readable is left (empty body, only chrome) or the date is absurd.
    """
    now = as_utc(now) if now else utc_now()
    published = article.published_at
    if published is not None and not (EARLIEST_PLAUSIBLE <= published <= now + timedelta(days=2)):
        raise Rejected(f"published_at {published.isoformat()} is not a plausible date", "bad_date")
    title = normalize_text(article.title).replace("\n", " ").strip()
    if not title or is_chrome(title):
        title = guess_title(article.body)
    paragraphs = strip_title(clean_paragraphs(article.body), title)
    sentences: list[str] = []
    starts: list[int] = []
    for paragraph in paragraphs:
        split = [s for s in split_sentences(paragraph) if len(s) <= MAX_SENTENCE_CHARS]
        if split:
            starts.append(len(sentences))
            sentences.extend(split)
    if not sentences:
        raise Rejected("body has no readable text after cleaning", "empty")
    fields = article.model_dump()
    fields.update(title=title, body="\n\n".join(paragraphs), language=article.language or "en")
    return PreparedArticle(**fields, sentences=sentences, paragraph_starts=starts, received_at=now)


def article_from_text(text: str, *, article_id: str, source: str) -> Article:
    """Make an article from a scraped plain-text page (title guessed from its first lines)."""
    return Article(id=article_id, source=source, title=guess_title(text), body=text)
