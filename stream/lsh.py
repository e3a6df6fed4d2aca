"""MinHash LSH banding in a hash-addressed numpy table, so lookups cost the same at 10k or 1M.

datasketch's ``MinHashLSH`` keeps, per article and per band, a ``bytes`` key in a dict of sets
(plus a second copy per article for removal): about 16 kB an article at 64 bands, 16 GB for the
million articles a few days of a large newsroom's ingest holds. Here each band of an article is
one 64-bit key next to a 32-bit slot number (12 bytes) in a table of 8-wide buckets. A key lives
in its first bucket, or in a second one when the first is full, so a lookup is one vectorised
gather of a bucket per band (plus the second bucket behind full first ones) whatever the table
size. (Placing each key in the emptier of its two buckets balanced them better but made every
lookup read both buckets. An earlier version kept sorted runs and binary-searched them: its
lookups slowed 7x between 640k and 64M keys from cache misses, and dedup cost grew with it.)

Keys that fill both buckets (the same band shared by many near-copies of one story) spill to a
small dict. Removal marks a slot dead; a rebuild, when the table fills or dead articles
outnumber live ones, drops dead entries, so memory follows the live index.
"""

from __future__ import annotations

import numpy as np

_MIX_A = np.uint64(0xBF58476D1CE4E5B9)
_MIX_B = np.uint64(0x94D049BB133111EB)
_SHIFT = np.uint64(31)
_WIDTH = 8  # entries per bucket: one 64-byte cache line of keys
_MAX_LOAD = 0.85
_EMPTY = -1
_REBUILD_CHUNK = 1 << 20
_FEW = 256
"""Entries placed without ranking them when their buckets are distinct (one article's bands)."""


class BandIndex:
    """Maps band keys of MinHash signatures to article ids."""

    def __init__(self, bands: int, rows: int, initial_buckets: int = 1024) -> None:
        self.bands = bands
        self.rows = rows
        self._names: list[str] = []
        self._slots: dict[str, int] = {}
        self._alive = np.zeros(1024, dtype=bool)
        # Each live article's whole signature, one row per slot: candidates are screened by
        # their estimated Jaccard in one gather, not one by one (their number grows with the
        # index: chance band collisions are a fixed share of the articles held).
        self._signatures = np.zeros((0, 0), dtype=np.uint32)
        self._dead = 0
        self._salt = (np.arange(1, bands + 1, dtype=np.uint64) * _MIX_B).astype(np.uint64)
        self._allocate(initial_buckets)

    def __contains__(self, name: object) -> bool:
        return name in self._slots

    def __len__(self) -> int:
        return len(self._slots)

    @property
    def load(self) -> float:
        """Share of table positions in use (live or dead entries)."""
        return self._entries / self._keys.size

    def keys(self, hashvalues: np.ndarray) -> np.ndarray:
        """One 64-bit key per band: the band's rows and its index, mixed (splitmix-style).

        Array arithmetic wraps around silently (only numpy scalars warn on overflow).
        """
        values = np.asarray(hashvalues[: self.bands * self.rows], dtype=np.uint64)
        values = values.reshape(self.bands, self.rows)
        key = self._salt
        for row in range(self.rows):
            key = (key ^ values[:, row]) * _MIX_A
            key ^= key >> _SHIFT
        return key

    def insert(self, name: str, hashvalues: np.ndarray) -> None:
        """Index an article's signature under ``name`` (a second insert of a name is ignored)."""
        if name in self._slots:
            return
        if (self._entries + self.bands) > _MAX_LOAD * self._keys.size:
            self._rebuild()
        slot = len(self._names)
        self._names.append(name)
        self._slots[name] = slot
        if slot >= self._alive.size:
            self._alive = np.concatenate([self._alive, np.zeros(self._alive.size, dtype=bool)])
        self._alive[slot] = True
        self._keep_signature(slot, hashvalues)
        keys = self.keys(hashvalues)
        slots = np.full(keys.size, slot, dtype=np.int32)
        first, second = self._buckets(keys)
        keys, slots = self._place(keys, slots, first, second)
        self._spill(keys, slots)

    def remove(self, name: str) -> None:
        """Forget an article (its entries are dropped at the next rebuild)."""
        slot = self._slots.pop(name, None)
        if slot is not None:
            self._alive[slot] = False
            self._names[slot] = ""
            self._dead += 1
            if self._dead > max(len(self._slots), 1024):
                self._rebuild()

    def _keep_signature(self, slot: int, hashvalues: np.ndarray) -> None:
        if slot >= len(self._signatures) or self._signatures.shape[1] != hashvalues.size:
            self._fit_signatures(hashvalues.size)
        self._signatures[slot] = hashvalues  # MinHash values are 32-bit

    def _fit_signatures(self, width: int) -> None:
        """Give the signature matrix a row for every slot ``_alive`` has room for."""
        room = np.zeros((self._alive.size, width), dtype=np.uint32)
        if self._signatures.shape[1] == width:  # else the first insert: nothing to keep
            room[: len(self._signatures)] = self._signatures
        self._signatures = room

    def query(self, hashvalues: np.ndarray, min_similarity: float = 0.0) -> set[str]:
        """Ids of live articles that share a band with the signature...

        ...and whose estimated Jaccard (the share of equal MinHash values) is at least
        ``min_similarity``: most band collisions are chance ones, dropped here in one gather.
        """
        keys = self.keys(hashvalues)
        first, second = self._buckets(keys)
        # A key goes to its second bucket only when its first is full, and entries stay until
        # a rebuild re-places them the same way: so the second bucket is read only behind a
        # full first one (about half the memory reads at moderate load).
        first_slots = self._table_slots[first]
        found = [first_slots[self._keys[first] == keys[:, None]]]
        full = first_slots[:, -1] != _EMPTY
        if full.any():
            second_slots = self._table_slots[second[full]]
            found.append(second_slots[self._keys[second[full]] == keys[full][:, None]])
            if self._overflow:
                spilled = keys[full][second_slots[:, -1] != _EMPTY]
                found.extend(
                    np.asarray(self._overflow.get(k, ()), dtype=np.int32) for k in spilled.tolist()
                )
        # Not made unique: an article met in several bands is screened once a band, and the
        # set of names takes it once (np.unique was a tenth of a query).
        hits = np.concatenate(found) if len(found) > 1 else found[0]
        hits = hits[self._alive[hits]]
        if min_similarity > 0 and hits.size:
            signature = np.asarray(hashvalues, dtype=np.uint32)
            equal = np.count_nonzero(self._signatures[hits] == signature, axis=1)
            # The share of equal values, compared as a count: exact for a power-of-two width.
            hits = hits[equal >= min_similarity * signature.size]
        return {self._names[s] for s in hits.tolist()}

    def _allocate(self, buckets: int) -> None:
        self._mask = np.uint64(buckets - 1)
        self._shift = np.uint64(64 - (buckets.bit_length() - 1))
        self._keys = np.zeros((buckets, _WIDTH), dtype=np.uint64)
        self._table_slots = np.full((buckets, _WIDTH), _EMPTY, dtype=np.int32)
        self._count = np.zeros(buckets, dtype=np.int64)
        self._entries = 0
        self._overflow: dict[int, list[int]] = {}

    def _buckets(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The two candidate buckets of each key: its low bits, and a multiplicative re-hash."""
        second = (keys * _MIX_B) >> self._shift
        return (keys & self._mask).astype(np.intp), second.astype(np.intp)

    def _place(
        self, keys: np.ndarray, slots: np.ndarray, preferred: np.ndarray, fallback: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Put entries in their preferred bucket, then their fallback; return what fits neither."""
        for attempt in range(2):
            if keys.size == 0:
                break
            buckets = preferred if attempt == 0 else fallback
            if keys.size <= _FEW and len(set(buckets.tolist())) == keys.size:
                # One article's keys in distinct buckets (nearly always): each goes to the next
                # position of its own bucket, with no ranking among them (a third of the cost).
                position = self._count[buckets]
                fits = position < _WIDTH
                chosen, at = buckets[fits], position[fits]
                self._keys[chosen, at] = keys[fits]
                self._table_slots[chosen, at] = slots[fits]
                self._count[chosen] = at + 1
                self._entries += chosen.size
                rest = np.flatnonzero(~fits)
                keys, slots = keys[rest], slots[rest]
                preferred, fallback = preferred[rest], fallback[rest]
                continue
            order = np.argsort(buckets, kind="stable")
            ordered = buckets[order]
            rank = np.arange(ordered.size) - np.searchsorted(ordered, ordered, side="left")
            position = self._count[ordered] + rank
            fits = position < _WIDTH
            chosen, at = ordered[fits], position[fits]
            self._keys[chosen, at] = keys[order[fits]]
            self._table_slots[chosen, at] = slots[order[fits]]
            # ``chosen`` is sorted: a bucket's new count is its last entry's position + 1.
            last = np.ones(chosen.size, dtype=bool)
            last[:-1] = chosen[1:] != chosen[:-1]
            self._count[chosen[last]] = at[last] + 1
            self._entries += int(fits.sum())
            rest = order[~fits]
            keys, slots = keys[rest], slots[rest]
            preferred, fallback = preferred[rest], fallback[rest]
        return keys, slots

    def _spill(self, keys: np.ndarray, slots: np.ndarray) -> None:
        if not keys.size:
            return
        for key, slot in zip(keys.tolist(), slots.tolist(), strict=True):
            self._overflow.setdefault(key, []).append(slot)

    def _rebuild(self) -> None:
        """Re-insert live entries into a table sized for them (doubling when more than half full).

        Slots are renumbered densely on the way, so the per-article bookkeeping follows the live
        index too, not every article ever seen.
        """
        used = self._table_slots >= 0
        keys, slots = self._keys[used], self._table_slots[used]
        spilled = [(k, s) for k, ss in self._overflow.items() for s in ss]
        if spilled:
            keys = np.concatenate([keys, np.fromiter((k for k, _ in spilled), dtype=np.uint64)])
            slots = np.concatenate([slots, np.fromiter((s for _, s in spilled), dtype=np.int32)])
        live = self._alive[slots]
        keys, slots = keys[live], slots[live]
        renumber = np.cumsum(self._alive, dtype=np.int64) - 1
        slots = renumber[slots].astype(np.int32)
        alive = self._alive[: len(self._names)].tolist()
        if self._signatures.size:
            self._signatures = self._signatures[np.flatnonzero(self._alive[: len(self._names)])]
        self._names = [name for name, keep in zip(self._names, alive, strict=True) if keep]
        self._slots = {name: slot for slot, name in enumerate(self._names)}
        self._alive = np.zeros(max(1024, 2 * len(self._names)), dtype=bool)
        self._alive[: len(self._names)] = True
        if self._signatures.size:
            self._fit_signatures(self._signatures.shape[1])
        buckets = self._count.size
        while keys.size + self.bands > 0.5 * buckets * _WIDTH:
            buckets *= 2
        self._allocate(buckets)
        self._dead = 0
        # In chunks: placing sorts its input, and sorting all 64M entries of a million articles
        # at once would need gigabytes of temporaries next to both tables.
        for start in range(0, keys.size, _REBUILD_CHUNK):
            chunk_keys = keys[start : start + _REBUILD_CHUNK]
            chunk_slots = slots[start : start + _REBUILD_CHUNK]
            first, second = self._buckets(chunk_keys)
            rest_keys, rest_slots = self._place(chunk_keys, chunk_slots, first, second)
            self._spill(rest_keys, rest_slots)
