"""Bundles: a batch's messages for one partition as one Kafka message, and back."""

from __future__ import annotations

import random

from aiokafka.partitioner import DefaultPartitioner

from stream.bundles import KEYS_HEADER, bundle, count_of, keys_of, partition_for, values_of
from stream.models import Article


def test_partitions_are_the_ones_the_workers_producer_picks() -> None:
    """A bundle must land where each of its messages would have: same partitioner as faust's."""
    rng = random.Random(5)
    picker = DefaultPartitioner()
    for _ in range(2000):
        key = rng.randbytes(rng.randint(1, 40))
        count = rng.choice([1, 2, 3, 4, 7, 12, 50])
        every = list(range(count))
        assert partition_for(key, count) == picker(key, every, every)


def test_a_batch_becomes_one_message_a_partition_in_order() -> None:
    messages = [(f"story-{n % 7}".encode(), f'{{"n":{n}}}'.encode()) for n in range(40)]
    bundles = bundle(messages, partitions=4)
    assert len(bundles) <= 4
    assert sum(b.count for b in bundles) == 40
    for sent in bundles:
        keys = keys_of(sent.key, sent.headers)
        values = values_of(sent.value)
        # Every message is where its own key puts it, and so is the bundle (by its key).
        assert {partition_for(k, 4) for k in keys} == {partition_for(sent.key, 4)}
        assert list(zip(keys, values, strict=True)) == [m for m in messages if m[0] in keys]


def test_a_lone_message_is_sent_as_it_was() -> None:
    (sent,) = bundle([(b"story-1", b'{"a":1}')], partitions=4)
    assert (sent.key, sent.value, sent.headers) == (b"story-1", b'{"a":1}', [])
    # ...and a message from before bundles reads as a bundle of one.
    assert values_of(b'{"a":1}') == [b'{"a":1}']
    assert keys_of(b"story-1", None) == [b"story-1"]
    assert keys_of(None, []) == []


def test_bundles_stay_under_their_size_and_keep_the_order() -> None:
    messages = [(b"k", str(n).encode()) for n in range(250)]
    bundles = bundle(messages, partitions=3, max_messages=100)
    assert [b.count for b in bundles] == [100, 100, 50]
    assert [v for b in bundles for v in values_of(b.value)] == [v for _, v in messages]
    assert [count_of(b.value) for b in bundles] == [len(values_of(b.value)) for b in bundles]
    assert all(dict(b.headers)[KEYS_HEADER].count(b"\n") == b.count - 1 for b in bundles)


def test_message_json_is_one_line_whatever_the_text() -> None:
    """Lines separate the messages of a bundle: no message's JSON may hold a raw newline."""
    article = Article(
        id="a\n1", source="Outlet", title="Two\nlines", body="Para one.\n\nPara two\r\n\u2028end"
    )
    encoded = article.model_dump_json().encode()
    assert b"\n" not in encoded
    (value,) = values_of(b"\n".join([encoded]))
    assert Article.model_validate_json(value) == article
