from __future__ import annotations

import numpy as np

from stream.lsh import BandIndex


def _sig(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 2**32, size=128, dtype=np.uint64).astype(np.uint32)


def test_finds_shared_bands_across_buffer_runs_and_merges():
    index = BandIndex(bands=64, rows=2, buffer_size=3)
    sigs = {f"a{i}": _sig(i) for i in range(20)}
    for name, sig in sigs.items():
        index.insert(name, sig)
    for name, sig in sigs.items():
        assert index.query(sig) == {name}
    near = sigs["a7"].copy()
    near[::3] = 0  # a third of the values differ: most bands still match
    assert index.query(near) == {"a7"}


def test_removed_articles_are_not_returned_and_are_dropped_on_merge():
    index = BandIndex(bands=64, rows=2, buffer_size=2)
    index.insert("a", _sig(1))
    index.insert("b", _sig(2))
    index.remove("a")
    assert "a" not in index and index.query(_sig(1)) == set()
    for i in range(10):
        index.insert(f"c{i}", _sig(100 + i))
    assert sum(len(k) for k, _ in index._runs) == 64 * 11  # "a" gone from the merged runs
