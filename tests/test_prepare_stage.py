"""The prepare stage gives the same outcome inline and in its helper processes."""

from __future__ import annotations

import asyncio
import json

from agents.prepare_stage import Accepted, PrepareOptions, PrepareStage, Refused, prepare_batch
from stream.models import PreparedArticle

OPTIONS = PrepareOptions(max_bytes=10_000, default_source="wire", partition_by="section")
GOOD = {
    "id": "a1",
    "source": "Outlet",
    "title": "Port strike enters second day",
    "body": "Dockworkers at Port Alder stayed off the job on Tuesday. Talks resume on Friday.",
    "section": "business",
}
PAYLOADS = [json.dumps(GOOD).encode(), b"not json", b"x" * 20_000, json.dumps([1]).encode()]


def test_batch_outcomes_keep_order_and_reasons():
    outcomes = prepare_batch(PAYLOADS, OPTIONS)
    assert isinstance(outcomes[0], Accepted) and outcomes[0].key == b"business"
    article = PreparedArticle.model_validate_json(outcomes[0].value)
    assert article.tokens is not None and len(article.tokens.sentences) == len(article.sentences)
    assert [o.error_type for o in outcomes[1:] if isinstance(o, Refused)] == [
        "json",
        "too_large",
        "wrong_type",
    ]


def test_helper_processes_prepare_exactly_like_the_worker():
    stage = PrepareStage(OPTIONS, processes=2)
    try:
        pooled = asyncio.run(stage.run(PAYLOADS * 3))
    finally:
        stage.close()

    def comparable(outcome: Accepted | Refused) -> object:
        if isinstance(outcome, Refused):
            return outcome
        return PreparedArticle.model_validate_json(outcome.value).model_dump(
            exclude={"received_at"}
        )

    assert [comparable(o) for o in pooled] == [
        comparable(o) for o in prepare_batch(PAYLOADS * 3, OPTIONS)
    ]
