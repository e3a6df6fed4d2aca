"""The benchmark's own shortcuts must read what the service writes."""

from __future__ import annotations

import hashlib
import os
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from agents.metrics import Metrics
from bench.e2e import (
    QUEUED_ORDER,
    BatchFigures,
    article_ids_of,
    batch_figures,
    live_stream,
    queued_by_kind,
    rate_between,
    streams_of_run,
    timeline,
)
from bench.kafka_env import queued_seconds
from bench.replay import ROOT, STAGES, build, replay
from bench.trace_slices import slice_rows
from stream.models import StoryUpdate, SummarySentence


def test_article_ids_of_reads_the_story_list_not_a_sentence_list() -> None:
    now = datetime(2026, 12, 2, tzinfo=UTC)
    tricky = '"article_ids":["not-an-id"]'  # in every string field a quote is escaped
    update = StoryUpdate(
        story_id="s-1",
        version=3,
        updated_at=now,
        first_seen=now,
        headline=tricky,
        sentences=[SummarySentence(text=tricky, article_ids=["a2"], sources=[tricky])],
        article_ids=["a1", "a2", "a3"],
        sources=[tricky],
        duplicates={"a3": "a1"},
        merged_from=["s-0"],
    )
    assert article_ids_of(update.model_dump_json().encode()) == ["a1", "a2", "a3"]
    # Indented JSON (not pydantic's compact form) is read the slow way, with the same answer.
    assert article_ids_of(update.model_dump_json(indent=1).encode()) == ["a1", "a2", "a3"]


def test_the_timeline_shows_a_latency_that_climbs_through_the_window() -> None:
    ids = [f"a{n}" for n in range(60)]
    sent = {ident: float(n) for n, ident in enumerate(ids)}
    seen = {ident: sent[ident] + 0.5 + n / 20 for n, ident in enumerate(ids)}  # a backlog
    del seen["a59"]  # never delivered: not in any slice
    rows = timeline(sent, seen, ids, slices=3)
    assert [(offset, count) for offset, _, _, count in rows] == [(0.0, 20), (20.0, 20), (40.0, 19)]
    p50s = [p50 for _, p50, _, _ in rows]
    assert p50s == sorted(p50s) and p50s[-1] - p50s[0] > 1.5
    assert timeline(sent, {}, ids) == []


def test_a_run_that_keeps_up_sustains_the_rate_it_is_offered() -> None:
    sent = [100.0 + n / 300 for n in range(36_000)]  # 300/s, after the producer connected
    kept_up = [t + 0.5 for t in sent]  # the same latency throughout
    fell_behind = [t + 0.5 + n / 3_000 for n, t in enumerate(sent)]  # a queue building
    assert rate_between(sent) == pytest.approx(300)
    assert rate_between(reversed(kept_up)) == pytest.approx(300)
    assert rate_between(fell_behind) == pytest.approx(300 / 1.1)
    assert rate_between([1.0]) != rate_between([1.0])  # nan: no span to measure


def test_trace_slices_say_which_stage_a_slow_slice_was_slow_in() -> None:
    # Four articles a second for 4 s; in the last 2 s clustering (the second stage) queued.
    rows: list[list[object]] = []
    for n in range(16):
        sent = n / 4
        queued = 1.0 if sent >= 2 else 0.0
        rows.append([f"a{n}", sent, sent + 0.1, sent + 0.3 + queued, sent + 0.6 + queued])
    rows.append(["refused", 0.5, None, None, None])  # a dead letter: in no slice
    sliced = slice_rows(rows, seconds=2)
    assert [(offset, count) for offset, count, _, _ in sliced] == [(0, 8), (2, 8)]
    (_, _, calm, calm_stages), (_, _, slow, slow_stages) = sliced
    assert calm == pytest.approx((0.6, 0.6)) and slow == pytest.approx((1.6, 1.6))
    assert [p95 for _, p95 in calm_stages] == pytest.approx([0.1, 0.2, 0.3])
    assert [p95 for _, p95 in slow_stages] == pytest.approx([0.1, 1.2, 0.3])
    assert slice_rows([], seconds=2) == []


def test_a_steady_run_measures_the_continuation_of_the_stream_it_warmed_up_on() -> None:
    """``--steady``: the window's stories are the ones the backlog and warm-up grew."""
    backlog, warming, measured = streams_of_run(count=50, paced=30, steady=200)
    assert (len(backlog), len(warming), len(measured)) == (170, 30, 50)
    assert backlog + warming + measured == live_stream(250)
    # Without it, the warm-up is other stories and the window starts the stream afresh.
    backlog, warming, measured = streams_of_run(count=50, paced=30)
    assert backlog == [] and len(warming) == 30 and measured == live_stream(50)
    assert not {a["id"] for a in warming} & {a["id"] for a in measured}


def test_a_busy_thread_beside_another_waits_for_a_core_and_it_is_counted() -> None:
    """``queued_seconds`` reads the kernel's run-queue wait of every thread of a process."""
    if not Path(f"/proc/{os.getpid()}/task/{threading.get_native_id()}/schedstat").exists():
        pytest.skip("this kernel keeps no schedstat")
    before = queued_by_kind([], None)
    assert set(before) == set(QUEUED_ORDER)
    assert before["worker"] == before["broker"] == 0.0  # no worker, no broker: nothing read
    # More busy threads than cores (hashing a large buffer runs without the GIL): each is
    # made to wait for one, now and then.
    block, stop = bytes(1 << 20), time.monotonic() + 0.6

    def spin() -> None:
        while time.monotonic() < stop:
            hashlib.sha256(block).digest()

    spinners = [threading.Thread(target=spin) for _ in range(2 * (os.cpu_count() or 1) + 1)]
    for spinner in spinners:
        spinner.start()
    time.sleep(0.3)
    waited = queued_seconds(os.getpid())  # read while they run: a thread that ended is gone
    for spinner in spinners:
        spinner.join()
    assert waited > before["load"] + 0.05  # 0.3 s of five threads wanting two cores: ~0.9 s


@pytest.mark.parametrize("stage", STAGES)
def test_a_replay_works_the_same_way_from_its_checkpoint(stage: str, tmp_path: Path) -> None:
    checkpoint = tmp_path / "work.pickle"
    build(stage, checkpoint, preload=5, steady=60, articles=20)
    first = replay(stage, ROOT, checkpoint, run=True)
    second = replay(stage, ROOT, checkpoint, run=True)
    assert first[2] == second[2] == 20
    assert first[1] == second[1]
    loaded = replay(stage, ROOT, checkpoint, run=False)  # loading alone works on nothing
    assert loaded[2] == 20 and loaded[1] != first[1]


def test_a_runs_batches_are_read_from_the_workers_metrics_and_taken_between_two_reads() -> None:
    metrics = Metrics()
    now = time.time()
    metrics.took_batch("cluster", 20, [now - 0.2])
    before = batch_figures(metrics.exposition().decode())
    metrics.took_batch("cluster", 200, [now - 3.0, now - 0.5])
    metrics.took_batch("cluster", 100, [now - 0.4])
    metrics.took_batch("summarise", 7, [now - 0.1])
    metrics.story_versions.inc(6)  # the summarise batch's versions
    after = batch_figures(metrics.exposition().decode())
    window = after["cluster"] - before["cluster"]
    assert (window.batches, window.messages, window.over_second) == (2, 300.0, 1)
    assert 3.4 <= window.waited < 3.9
    assert window.versions == 0.0  # versions are summarise's
    summarise = after["summarise"] - before["summarise"]
    assert (summarise.batches, summarise.messages, summarise.versions) == (1, 7.0, 6.0)
    assert after["prepare"] == BatchFigures(0, 0.0, 0.0, 0, 0.0)
