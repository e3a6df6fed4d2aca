"""Where a window's tail happened: latency by slice of the window and by stage, from a trace.

    python bench/e2e.py --rate 300 --seconds 120 --steady 90000 --trace /tmp/run
    python bench/trace_slices.py /tmp/run.1.json --seconds 6

``bench/e2e.py``'s own slices give each part of the window's p50 and p95 end to end. When a
slice's tail rises, this says in which stage (topic to topic) it rose, and whether all stages
rose at once (the whole machine short of CPU: in session 29 the summary helpers' work rose
with the stream's content for half a minute) or one stage queued (a stage that fell behind).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.e2e import HOPS, percentile  # noqa: E402

Row = tuple[float, int, tuple[float, float], list[tuple[float, float]]]
"""(seconds into the window, articles, (p50, p95) end to end, (p50, p95) of each stage)."""


def slice_rows(rows: list[list[Any]], seconds: float) -> list[Row]:
    """Per ``seconds`` of send time: p50 and p95 end to end and of each stage.

    ``rows`` as a trace holds them: id, then the time sent and the time each stage ended
    (``HOP_ENDS``); an article missing a time (refused, never delivered) is left out.
    """
    timed = [[float(x) for x in row[1:]] for row in rows if None not in row[1:]]
    if not timed:
        return []
    start = min(marks[0] for marks in timed)
    slices: dict[int, list[list[float]]] = {}
    for marks in timed:
        slices.setdefault(int((marks[0] - start) // seconds), []).append(marks)
    result: list[Row] = []
    for index in sorted(slices):
        part = slices[index]
        total = [marks[-1] - marks[0] for marks in part]
        stages = [
            [marks[hop + 1] - marks[hop] for marks in part] for hop in range(len(part[0]) - 1)
        ]
        result.append(
            (
                index * seconds,
                len(part),
                (percentile(total, 0.5), percentile(total, 0.95)),
                [(percentile(spans, 0.5), percentile(spans, 0.95)) for spans in stages],
            )
        )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("trace", type=Path, help="a file bench/e2e.py --trace wrote")
    parser.add_argument("--seconds", type=float, default=6.0, help="length of a slice")
    args = parser.parse_args()
    trace = json.loads(args.trace.read_text())
    stages = " | ".join(f"{hop} p50 / p95 s" for hop in HOPS)
    print(f"| sent from (s) | articles | p50 / p95 s | {stages} |")
    print("| --- | --- | --- |" + " --- |" * len(HOPS))
    for offset, count, (p50, p95), hops in slice_rows(trace["rows"], args.seconds):
        spans = " | ".join(f"{a:.2f} / {b:.2f}" for a, b in hops)
        print(f"| {offset:.0f} | {count:,} | {p50:.2f} / {p95:.2f} | {spans} |")


if __name__ == "__main__":
    main()
