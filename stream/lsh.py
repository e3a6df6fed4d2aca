"""MinHash LSH banding in flat numpy arrays, so a million articles fit in under a gigabyte.

datasketch's ``MinHashLSH`` keeps, per article and per band, a ``bytes`` key in a dict of sets
(plus a second copy per article for removal): about 16 kB an article at 64 bands, 16 GB for the
million articles a few days of a large newsroom's ingest holds. Here each band of an article is
one 64-bit key in a sorted array next to a 32-bit slot number (12 bytes), organised like an LSM
tree: new articles go to a small dict buffer; full buffers become sorted runs; runs of similar
size are merged, so a lookup is one vectorised ``searchsorted`` per run and inserts stay cheap.
Removal marks a slot dead; merges drop dead entries.
"""

from __future__ import annotations

import numpy as np

_MIX_A = np.uint64(0xBF58476D1CE4E5B9)
_MIX_B = np.uint64(0x94D049BB133111EB)


class BandIndex:
    """Maps band keys of MinHash signatures to article ids."""

    def __init__(self, bands: int, rows: int, buffer_size: int = 20_000) -> None:
        self.bands = bands
        self.rows = rows
        self.buffer_size = buffer_size
        self._names: list[str] = []
        self._slots: dict[str, int] = {}
        self._alive = bytearray()
        self._buffer: dict[int, list[int]] = {}
        self._buffered = 0
        self._runs: list[tuple[np.ndarray, np.ndarray]] = []
        self._dead = 0
        self._salt = (np.arange(1, bands + 1, dtype=np.uint64) * _MIX_B).astype(np.uint64)

    def __contains__(self, name: object) -> bool:
        return name in self._slots

    def __len__(self) -> int:
        return len(self._slots)

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
        slot = len(self._names)
        self._names.append(name)
        self._slots[name] = slot
        self._alive.append(1)
        for key in self.keys(hashvalues).tolist():
            self._buffer.setdefault(key, []).append(slot)
        self._buffered += 1
        if self._buffered >= self.buffer_size:
            self._flush()

    def remove(self, name: str) -> None:
        """Forget an article (its entries are dropped at the next merge)."""
        slot = self._slots.pop(name, None)
        if slot is not None:
            self._alive[slot] = 0
            self._names[slot] = ""
            self._dead += 1

    def query(self, hashvalues: np.ndarray) -> set[str]:
        """Ids of live articles that share at least one band with the signature."""
        keys = self.keys(hashvalues)
        slots: set[int] = set()
        for key in keys.tolist():
            slots.update(self._buffer.get(key, ()))
        for run_keys, run_slots in self._runs:
            low = np.searchsorted(run_keys, keys, side="left")
            high = np.searchsorted(run_keys, keys, side="right")
            for a, b in zip(low[high > low].tolist(), high[high > low].tolist(), strict=True):
                slots.update(run_slots[a:b].tolist())
        return {self._names[s] for s in slots if self._alive[s]}

    def _flush(self) -> None:
        if not self._buffer:
            return
        keys = np.fromiter((k for k, slots in self._buffer.items() for _ in slots), dtype=np.uint64)
        slots = np.fromiter((s for ss in self._buffer.values() for s in ss), dtype=np.int32)
        order = np.argsort(keys, kind="stable")
        self._runs.append((keys[order], slots[order]))
        self._buffer = {}
        self._buffered = 0
        # Size-tiered merging: merge while the newest run is at least half the one before it;
        # merge everything once removed articles outnumber live ones, so memory follows the
        # live index (old runs would otherwise keep evicted entries until their next merge).
        if self._dead >= len(self._slots):
            self._merge(len(self._runs))
            self._dead = 0
        while len(self._runs) >= 2 and len(self._runs[-1][0]) * 2 >= len(self._runs[-2][0]):
            self._merge(2)

    def _merge(self, count: int) -> None:
        """Merge the newest ``count`` runs into one, dropping removed articles."""
        merging = self._runs[-count:]
        del self._runs[-count:]
        keys = np.concatenate([k for k, _ in merging])
        slots = np.concatenate([s for _, s in merging])
        alive = np.frombuffer(bytes(self._alive), dtype=np.uint8)[slots].astype(bool)
        keys, slots = keys[alive], slots[alive]
        order = np.argsort(keys, kind="stable")
        self._runs.append((keys[order], slots[order]))
