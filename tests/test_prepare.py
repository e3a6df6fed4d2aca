from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from stream.clean import clean_paragraphs, guess_title
from stream.prepare import Rejected, parse_article
from stream.text import split_sentences


def _msg(**fields) -> bytes:
    return json.dumps(
        {
            "id": "a1",
            "source": "Outlet",
            "body": "The council approved the new budget on Monday after a long debate.",
            **fields,
        }
    ).encode()


def test_valid_article_is_prepared_with_sentences():
    article = parse_article(_msg(title="Budget passes"))
    assert article.sentences == [
        "The council approved the new budget on Monday after a long debate."
    ]
    assert article.language == "en"


def test_naive_time_is_utc():
    article = parse_article(_msg(published_at="2026-11-01T10:00:00"))
    assert article.published_at == datetime(2026, 11, 1, 10, tzinfo=UTC)


@pytest.mark.parametrize(
    ("payload", "error_type"),
    [
        (b"{not json", "json"),
        (b"\xff\xfe", "encoding"),
        (b"[1, 2]", "wrong_type"),
        (json.dumps({"id": "x", "source": "S"}).encode(), "validation"),
        (json.dumps({"id": 5, "source": "S", "body": "b"}).encode(), "validation"),
        (json.dumps({"id": "x", "source": "S", "body": "   "}).encode(), "empty"),
        (json.dumps({"id": "x", "source": "S", "body": "Skip to main content"}).encode(), "empty"),
        (_msg(published_at="1850-01-01T00:00:00Z"), "bad_date"),
        (b"{" + b" " * 2_000_000 + b"}", "too_large"),
    ],
)
def test_bad_input_is_rejected_with_a_reason(payload, error_type):
    with pytest.raises(Rejected) as caught:
        parse_article(payload)
    assert caught.value.error_type == error_type
    assert caught.value.reason


def test_html_body_is_converted():
    body = "<html><nav>Home</nav><p>The mayor opened the new bridge on Friday to cheering crowds.</p><script>x()</script></html>"
    article = parse_article(_msg(body=body))
    assert article.sentences == ["The mayor opened the new bridge on Friday to cheering crowds."]


def test_ninjs_item_is_mapped():
    item = {
        "uri": "urn:x:1",
        "headlines": [{"role": "main", "value": "Headline here"}],
        "bodies": [
            {"role": "text", "value": "The ministry confirmed the plan in a statement on Monday."}
        ],
        "versioncreated": "2026-11-02T08:00:00Z",
        "copyrightholder": "Wire",
    }
    article = parse_article(json.dumps(item).encode())
    assert (article.id, article.source, article.title) == ("urn:x:1", "Wire", "Headline here")


def test_chrome_lines_are_dropped_and_prose_kept():
    text = (
        "This story is over 5 years old.\n\nReal headline about the vote\n\nPhoto via Agency\n\n"
        "The parliament voted on Tuesday to extend the mission by a year.\n\nSign up for our weekly newsletter\n\n"
        "Page not found\n\nThe content you requested does not exist or is not available anymore."
    )
    assert clean_paragraphs(text) == [
        "The parliament voted on Tuesday to extend the mission by a year."
    ]
    assert guess_title(text) == "Real headline about the vote"


@pytest.mark.parametrize(
    "marker", ["Page not found", "404", "404 - Page Not Found", "Error 404 | The Daily Site"]
)
def test_an_error_page_marker_ends_the_article(marker: str) -> None:
    prose = "The parliament voted on Tuesday to extend the mission by a year."
    assert clean_paragraphs(f"{prose}\n\n{marker}\n\nThe content you requested is gone.") == [prose]


def test_prose_that_starts_with_404_is_prose() -> None:
    text = "404 people were evacuated on Tuesday as the river rose.\n\nThe dam held overnight, engineers said on Wednesday."
    assert clean_paragraphs(text) == [
        "404 people were evacuated on Tuesday as the river rose.",
        "The dam held overnight, engineers said on Wednesday.",
    ]


def test_sentence_splitter_handles_abbreviations_and_quotes():
    text = 'Lt. Gen. Ali Ayoub spoke at 4 p.m. Friday. "We are ready," he said. The U.S. disagreed.'
    assert split_sentences(text) == [
        "Lt. Gen. Ali Ayoub spoke at 4 p.m. Friday.",
        '"We are ready," he said.',
        "The U.S. disagreed.",
    ]


def test_prose_starting_with_by_is_not_a_byline():
    assert clean_paragraphs("By Monday evening, 40 ships were waiting outside.\n\nBy Jane Doe") == [
        "By Monday evening, 40 ships were waiting outside."
    ]
