"""Sending a batch's messages now, rather than when the producer's linger runs out.

The worker's producer lingers (``STORYSTREAM_PRODUCER_LINGER_MS``, 30 ms) so that the messages
of its agents and table writes share produce requests: at 5 ms the broker and the clustering
helper were busier and the latency worse (README, session 17). But a stage sends a batch's
bundles all at once, and nothing more comes for them until its next batch: lingering then
only delays the next stage by up to the linger, on every hop (and aiokafka's ``flush()``
waits the linger out too, before a batch's versions may go). :func:`send_lingering` closes the
batches the producer holds and wakes its sender: what is there goes in one request now (one
a broker: aiokafka keeps one request in flight per broker, so the rest still coalesce behind
it), and messages sent later start new batches that linger as usual.

aiokafka has no public call for this (``flush()`` waits for the linger;
``flush_for_commit()`` does the same closing but is the transactional path's); this reaches
into its accumulator, the same two steps ``flush_for_commit`` takes, for the aiokafka version
pinned in ``pyproject.toml``. ``tests/test_sending.py`` checks it against a real broker.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable, Sequence
from typing import Any, cast

import faust
from faust.types import AppT

from stream.bundles import bundle

log = logging.getLogger("storystream")


def _aiokafka_producer(app: AppT) -> Any:
    """The aiokafka producer behind faust's (started on first use)."""
    return cast(Any, app.producer)._ensure_producer()


@functools.cache
def _warn_no_accumulator() -> None:
    log.warning("this aiokafka has no accumulator to close: batches wait for the linger")


def send_lingering(app: AppT) -> None:
    """Close every batch the producer holds, so the sender takes them at once.

    An aiokafka without these internals degrades to the linger (logged once), never a crash.
    """
    accumulator = getattr(_aiokafka_producer(app), "_message_accumulator", None)
    if accumulator is None or not hasattr(accumulator, "_waiter_future"):
        _warn_no_accumulator()
        return
    for batches in accumulator._batches.values():
        # Only the last batch of a partition can be open; a retried one has been built and
        # has no builder any more.
        builder = getattr(batches[-1], "_builder", None) if batches else None
        if builder is not None:
            builder.close()
    waiter = accumulator._waiter_future
    if not waiter.done():
        waiter.set_result(None)


async def flush_now(app: AppT) -> None:
    """``app.producer.flush()`` without waiting out the linger.

    Every message sent so far is delivered when this returns (faust's buffer first, then the
    producer's batches).
    """
    await app.producer.buffer.flush()
    send_lingering(app)
    await _aiokafka_producer(app).flush()


async def send_now(
    topic: faust.TopicT, messages: Iterable[tuple[bytes, bytes, list[tuple[str, bytes]] | None]]
) -> None:
    """Send (key, value, headers) messages, and send them out at once.

    They go straight to the producer: not through faust's buffer, whose task would hand them
    on later, and not attached to the current event, which would hold them until it is acked.
    Awaiting each send costs little when a batch sends a few bundles or versions (the
    per-article sends that once made it 0.46 ms an article are gone).
    """
    for key, value, headers in messages:
        await topic.send(key=key, value=value, headers=headers, force=True)
    send_lingering(topic.app)


async def send_bundled(
    topic: faust.TopicT, messages: Sequence[tuple[bytes, bytes]], partitions: int
) -> None:
    """Send (key, value) messages as bundles, one a partition (see :mod:`stream.bundles`)."""
    await send_now(topic, ((b.key, b.value, b.headers) for b in bundle(messages, partitions)))
