"""The prepare stage's work on a batch of raw messages, in the worker or in its helper processes.

Parsing, cleaning and tokenising an article needs nothing but the message itself, so it can run
beside the agents that must run in order (clustering, summaries) instead of taking turns with
them on the worker's one Python thread. The worker hands each batch that ``stream.take_events``
gives it to its helper processes (``STORYSTREAM_PREPARE_PROCESSES``, default 1) and awaits the
result, so its event loop keeps clustering and summarising meanwhile; with 0 the batch is
prepared inline. Either way the outcome of a message is the same bytes.

Helpers are spawned and die with the worker (:mod:`agents.helpers`).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Literal

from agents.helpers import Helper, HelperGone
from stream.features import tokenise
from stream.models import WIRE_EXCLUDE
from stream.offline import partition_key
from stream.prepare import Rejected, parse_article

log = logging.getLogger("storystream")


@dataclass(frozen=True, slots=True)
class PrepareOptions:
    """What preparing a message depends on besides the message (the worker's settings)."""

    max_bytes: int
    default_source: str
    partition_by: Literal["language", "section", "global"]


@dataclass(frozen=True, slots=True)
class Accepted:
    """A message that became an article: the key and value to send to ``articles.prepared``."""

    key: bytes
    value: bytes


@dataclass(frozen=True, slots=True)
class Refused:
    """A message that cannot become an article, with the reason for its dead letter."""

    reason: str
    error_type: str


def prepare_batch(payloads: list[bytes], options: PrepareOptions) -> list[Accepted | Refused]:
    """Validate, clean and tokenise each message; one outcome per payload, in order."""
    outcomes: list[Accepted | Refused] = []
    for payload in payloads:
        try:
            article = parse_article(
                payload, max_bytes=options.max_bytes, default_source=options.default_source
            )
        except Rejected as rejected:
            outcomes.append(Refused(rejected.reason, rejected.error_type))
            continue
        article.tokens = tokenise(article)
        key = partition_key(article, options.partition_by).encode()
        outcomes.append(Accepted(key, article.model_dump_json(exclude=set(WIRE_EXCLUDE)).encode()))
    return outcomes


class PrepareStage:
    """Runs :func:`prepare_batch` in ``processes`` helper processes, or inline when 0."""

    def __init__(self, options: PrepareOptions, processes: int) -> None:
        self.options = options
        self.processes = processes
        self._helpers: list[Helper] = []

    async def run(self, payloads: list[bytes]) -> list[Accepted | Refused]:
        """The outcomes of a batch; the event loop runs other agents while helpers work."""
        if self.processes <= 0:
            return prepare_batch(payloads, self.options)
        if not self._helpers:
            self._helpers = [Helper("prepare") for _ in range(self.processes)]
        size = -(-len(payloads) // self.processes)
        chunks = [payloads[i : i + size] for i in range(0, len(payloads), size)]
        try:
            done = await asyncio.gather(
                *(
                    helper.submit(prepare_batch, chunk, self.options)
                    for helper, chunk in zip(self._helpers, chunks, strict=False)
                )
            )
        except HelperGone:
            # A helper died (killed, out of memory): start new ones next time, do this batch here.
            log.warning("prepare helper process died; preparing this batch in the worker")
            self.close()
            return prepare_batch(payloads, self.options)
        return [outcome for outcomes in done for outcome in outcomes]

    def close(self) -> None:
        """Stop the helpers (they also stop by themselves when the worker exits)."""
        for helper in self._helpers:
            helper.close()
        self._helpers = []
