"""MinHash LSH banding in a hash-addressed numpy table, so lookups cost the same at 10k or 1M.

datasketch's ``MinHashLSH`` keeps, per article and per band, a ``bytes`` key in a dict of sets
(plus a second copy per article for removal): about 16 kB an article at 64 bands, 16 GB for the
million articles a few days of a large newsroom's ingest holds. Here each band of an article is
one 64-bit key next to a 32-bit slot number (12 bytes) in a table of 8-wide buckets. A key may
live in either of two buckets (two-choice hashing: the emptier one is used), which keeps buckets
evenly filled up to high load, so a lookup is one vectorised gather of two buckets per band
whatever the table size. (An earlier version kept sorted runs and binary-searched them: its
lookups slowed 7x between 640k and 64M keys from cache misses, and dedup cost grew with it.)

Keys that fill both buckets (the same band shared by many near-copies of one story) spill to a
small dict. Removal marks a slot dead; a rebuild, when the table fills or dead articles
outnumber live ones, drops dead entries, so memory follows the live index.
"""

from __future__ import annotations

import numpy as np

_MIX_A = np.uint64(0xBF58476D1CE4E5B9)
_MIX_B = np.uint64(0x94D049BB133111EB)
_WIDTH = 8  # entries per bucket: one 64-byte cache line of keys
_MAX_LOAD = 0.85
_EMPTY = -1
_REBUILD_CHUNK = 1 << 20


class BandIndex:
    """Maps band keys of MinHash signatures to article ids."""

    def __init__(self, bands: int, rows: int, initial_buckets: int = 1024) -> None:
        self.bands = bands
        self.rows = rows
        self._names: list[str] = []
        self._slots: dict[str, int] = {}
        self._alive = np.zeros(1024, dtype=bool)
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
        """One 64-bit key per band: the band's rows and its index, mixed (splitmix-style)."""
        values = np.asarray(hashvalues[: self.bands * self.rows], dtype=np.uint64)
        values = values.reshape(self.bands, self.rows)
        key = self._salt.copy()
        with np.errstate(over="ignore"):
            for row in range(self.rows):
                key = (key ^ values[:, row]) * _MIX_A
                key ^= key >> np.uint64(31)
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
        keys = self.keys(hashvalues)
        slots = np.full(keys.size, slot, dtype=np.int32)
        first, second = self._buckets(keys)
        emptier = np.where(self._count[first] <= self._count[second], first, second)
        other = np.where(emptier == first, second, first)
        keys, slots = self._place(keys, slots, emptier, other)
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

    def query(self, hashvalues: np.ndarray) -> set[str]:
        """Ids of live articles that share at least one band with the signature."""
        keys = self.keys(hashvalues)
        first, second = self._buckets(keys)
        buckets = np.concatenate([first, second])
        hit = self._keys[buckets] == np.concatenate([keys, keys])[:, None]
        found = self._table_slots[buckets][hit]
        slots = set(found[self._alive[found]].tolist()) if found.size else set()
        if self._overflow:
            for key in keys.tolist():
                slots.update(s for s in self._overflow.get(key, ()) if self._alive[s])
        return {self._names[s] for s in slots}

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
        with np.errstate(over="ignore"):
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
            order = np.argsort(buckets, kind="stable")
            ordered = buckets[order]
            rank = np.arange(ordered.size) - np.searchsorted(ordered, ordered, side="left")
            position = self._count[ordered] + rank
            fits = position < _WIDTH
            chosen, at = ordered[fits], position[fits]
            self._keys[chosen, at] = keys[order[fits]]
            self._table_slots[chosen, at] = slots[order[fits]]
            np.add.at(self._count, chosen, 1)
            self._entries += int(fits.sum())
            rest = order[~fits]
            keys, slots = keys[rest], slots[rest]
            preferred, fallback = preferred[rest], fallback[rest]
        return keys, slots

    def _spill(self, keys: np.ndarray, slots: np.ndarray) -> None:
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
        self._names = [name for name, keep in zip(self._names, alive, strict=True) if keep]
        self._slots = {name: slot for slot, name in enumerate(self._names)}
        self._alive = np.zeros(max(1024, 2 * len(self._names)), dtype=bool)
        self._alive[: len(self._names)] = True
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
