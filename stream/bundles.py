"""Bundles: the messages of one batch that go to one partition, sent as one Kafka message.

Between its own stages a worker sent one message an article on ``articles.prepared`` and one a
command on ``stories.assignments``, and consumed each again: per article two sends and two
events through faust, its consumer thread and the broker, each costing about as much as the
article's text. A batch's messages for one partition now travel as one message whose value
is their values as JSON lines (pydantic's JSON is one line: a newline only ever separates
two messages), in the order they were made. A single message is a bundle of one, so a topic
written before bundles reads the same.

Grouping is by partition, not by key: a batch's articles and commands are spread over many
keys (one a story) but few partitions, and every message of a bundle must land where its own
key would have put it. That is where the bundle's key puts it, since all its keys hash to
that partition; :func:`partition_for` is Kafka's default partitioner (murmur2), the one the
worker's producer uses, so a story's commands and its state's changelog stay co-partitioned.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from kafka.partitioner.default import murmur2

KEYS_HEADER = "storystream-keys"
"""Header of a bundle of more than one message: the messages' keys, one a line, in order."""


def partition_for(key: bytes, partitions: int) -> int:
    """The partition Kafka's default partitioner gives ``key`` among ``partitions``."""
    return int(murmur2(key) & 0x7FFFFFFF) % partitions


@dataclass(frozen=True, slots=True)
class Bundle:
    """One message carrying several: what to send."""

    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]
    count: int


def bundle(
    messages: Iterable[tuple[bytes, bytes]], partitions: int, max_messages: int = 100
) -> list[Bundle]:
    """(key, value) messages as bundles, one a partition (more past ``max_messages``).

    A partition's messages keep their order within and across its bundles, which is all
    Kafka promises about a partition. Bundles come in the order of their first message.
    """
    by_partition: dict[int, list[tuple[bytes, bytes]]] = {}
    cache: dict[bytes, int] = {}
    for key, value in messages:
        partition = cache.get(key)
        if partition is None:
            partition = cache[key] = partition_for(key, partitions)
        by_partition.setdefault(partition, []).append((key, value))
    out: list[Bundle] = []
    for grouped in by_partition.values():
        for start in range(0, len(grouped), max_messages):
            part = grouped[start : start + max_messages]
            keys = [key for key, _ in part]
            headers = [(KEYS_HEADER, b"\n".join(keys))] if len(part) > 1 else []
            out.append(Bundle(keys[0], b"\n".join(v for _, v in part), headers, len(part)))
    return out


def values_of(value: bytes) -> list[bytes]:
    """The values a bundle carries (one for a message sent on its own)."""
    return [line for line in value.split(b"\n") if line]


def count_of(value: bytes) -> int:
    """How many values a bundle carries, without splitting it (for sizing batches)."""
    return value.count(b"\n") + 1


def keys_of(
    key: bytes | None, headers: Mapping[str, bytes] | Sequence[tuple[str, bytes]] | None
) -> list[bytes]:
    """The keys of a bundle's messages: from its header, or its own key when it carries one."""
    found = _header(headers, KEYS_HEADER)
    if found is not None:
        return found.split(b"\n")
    return [key] if key else []


def _header(
    headers: Mapping[str, bytes] | Sequence[tuple[str, bytes]] | None, name: str
) -> bytes | None:
    if not headers:
        return None
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    for found, value in pairs:
        if found == name:
            return value
    return None
