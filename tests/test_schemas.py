from __future__ import annotations

import json
from pathlib import Path

import jsonschema

import stream
from stream.models import Article, DeadLetter, MergeEvent, StoryUpdate, SummarySentence, utc_now
from stream.schemas import render_schemas

SCHEMAS = Path(__file__).resolve().parents[1] / "schemas"


def test_schemas_are_up_to_date():
    for name, text in render_schemas().items():
        assert (SCHEMAS / name).read_text() == text, f"{name} is stale: run `make schemas`"


def test_samples_validate_against_schemas():
    now = utc_now()
    samples = {
        "article": Article(id="a", source="S", body="Body text.", published_at=now, extra_field=1),
        "story_update": StoryUpdate(
            story_id="s-1",
            version=1,
            updated_at=now,
            first_seen=now,
            headline="H",
            sentences=[SummarySentence(text="T.", article_ids=["a"], sources=["S"])],
            article_ids=["a"],
            sources=["S"],
        ),
        "dead_letter": DeadLetter.for_payload(
            b"\xff", "bad", "encoding", topic="t", partition=0, offset=3
        ),
        "merge_event": MergeEvent(story_id="s-1", merged_from=["s-2"], at=now),
    }
    for name, model in samples.items():
        schema = json.loads((SCHEMAS / f"{name}.schema.json").read_text())
        jsonschema.validate(json.loads(model.model_dump_json()), schema)


def test_extra_fields_are_kept_not_fatal():
    article = Article.model_validate({"id": "a", "source": "S", "body": "B", "wire_code": "X1"})
    assert article.model_extra == {"wire_code": "X1"}


def test_public_surface_is_exported():
    for name in stream.__all__:
        assert hasattr(stream, name)
