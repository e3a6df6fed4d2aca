from __future__ import annotations

import numpy as np

from stream.lsh import BandIndex


def _sig(seed: int) -> np.ndarray:
    return (
        np.random.default_rng(seed).integers(0, 2**32, size=128, dtype=np.uint64).astype(np.uint32)
    )


def test_finds_shared_bands_across_table_growth():
    index = BandIndex(bands=64, rows=2, initial_buckets=4)
    sigs = {f"a{i}": _sig(i) for i in range(300)}
    for name, sig in sigs.items():
        index.insert(name, sig)
    assert index.load <= 0.85
    for name, sig in sigs.items():
        assert index.query(sig) == {name}
    near = sigs["a7"].copy()
    near[::3] = 0  # a third of the values differ: most bands still match
    assert index.query(near) == {"a7"}


def test_a_band_shared_by_many_articles_spills_and_is_still_found():
    index = BandIndex(bands=64, rows=2, initial_buckets=64)
    base = _sig(5)
    for i in range(40):  # forty near-copies sharing their first bands: more than two buckets hold
        sig = _sig(1000 + i)
        sig[:8] = base[:8]
        index.insert(f"copy{i}", sig)
    assert index.query(base) == {f"copy{i}" for i in range(40)}


def test_removed_articles_are_not_returned_and_are_dropped_on_rebuild():
    index = BandIndex(bands=64, rows=2, initial_buckets=4)
    for i in range(2000):
        index.insert(f"a{i}", _sig(i))
        if i >= 10:
            index.remove(f"a{i - 10}")
    assert len(index) == 10
    assert index.query(_sig(0)) == set()
    assert index.query(_sig(1995)) == {"a1995"}
    assert len(index._names) < 2000  # slots were renumbered: bookkeeping follows the live index
    assert int((index._table_slots >= 0).sum()) < 64 * 1100


def test_candidates_are_screened_by_estimated_jaccard_across_rebuilds():
    index = BandIndex(bands=64, rows=2, initial_buckets=4)
    base = _sig(1)
    close, loose = base.copy(), _sig(2)
    close[::4] = 0  # three quarters of the values equal
    loose[:2] = base[:2]  # one shared band: a chance collision, 2 of 128 values equal
    index.insert("close", close)
    index.insert("loose", loose)
    for i in range(600):  # grow (and rebuild) the table: rows must follow their slots
        index.insert(f"x{i}", _sig(100 + i))
        if i % 3 == 0:
            index.remove(f"x{i}")
    assert index.query(base) == {"close", "loose"}
    assert index.query(base, min_similarity=0.05) == {"close"}
    assert index.query(base, min_similarity=0.8) == set()


def test_placing_one_articles_keys_unranked_fills_the_table_as_ranking_does(monkeypatch):
    import stream.lsh as lsh

    def fill() -> BandIndex:
        index = BandIndex(bands=64, rows=2, initial_buckets=64)
        base = _sig(5)
        for i in range(400):  # growth, full buckets, spills (shared first bands) and rebuilds
            sig = _sig(2000 + i)
            if i % 5 == 0:
                sig[:8] = base[:8]
            index.insert(f"a{i}", sig)
        return index

    unranked = fill()
    monkeypatch.setattr(lsh, "_FEW", 0)  # every placement ranked
    ranked = fill()

    def entries(index: BandIndex) -> list[tuple[int, int]]:
        used = index._table_slots >= 0
        held = zip(index._keys[used].tolist(), index._table_slots[used].tolist(), strict=True)
        spilled = [(key, slot) for key, slots in index._overflow.items() for slot in slots]
        return sorted([*held, *spilled])

    # The same entries; where a rebuild puts spilled ones may differ (they spill in another
    # order), which no query can tell.
    assert entries(unranked) == entries(ranked)
    assert unranked._overflow  # the test reached the spill path
    for i in range(0, 400, 7):
        assert unranked.query(_sig(2000 + i)) == ranked.query(_sig(2000 + i))


def test_signatures_are_datasketchs_minhash_values():
    from datasketch import MinHash

    from stream.dedup import _TEMPLATE, NUM_PERM, _signature

    rng = np.random.default_rng(3)
    for size in (0, 1, 7, 150, 2000):
        hashes = rng.integers(0, 2**32, size=size, dtype=np.uint64).astype(np.uint32)
        theirs = MinHash(
            num_perm=NUM_PERM,
            permutations=_TEMPLATE.permutations,
            scheme=_TEMPLATE.scheme,
            hashfunc=lambda value: value,
        )
        theirs.update_batch(hashes.tolist())
        assert np.array_equal(_signature(hashes), theirs.hashvalues)
