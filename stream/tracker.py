"""The clustering stage as one pure streaming step: dedup, then place in a story.

Used unchanged by the clustering agent and by ``storystream cluster``, so an offline replay gives
the same assignments as the running service. One :class:`StoryTracker` holds the state of one
partition key (by default a language): stories never span keys.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from stream.cluster import ClusterConfig, OnlineClusterer
from stream.dedup import DedupConfig, DedupIndex
from stream.features import analyse
from stream.models import DedupKind, DedupVerdict, PreparedArticle

EVICT_EVERY = 500
"""Articles between eviction sweeps (a sweep walks the stories, so it is amortised)."""


@dataclass(frozen=True, slots=True)
class Placed:
    """Where one article went."""

    article_id: str
    story_id: str
    dedup: DedupVerdict
    merged_from: tuple[str, ...] = ()
    replay: bool = False

    def as_record(self) -> dict[str, str]:
        """The ``storystream cluster`` output line for this article."""
        return {
            "article_id": self.article_id,
            "story_id": self.story_id,
            "dedup": self.dedup.label(),
        }


@dataclass
class StoryTracker:
    """Dedup + online clustering state for one partition key."""

    dedup_config: DedupConfig = field(default_factory=DedupConfig)
    cluster_config: ClusterConfig = field(default_factory=ClusterConfig)

    def __post_init__(self) -> None:
        self.dedup = DedupIndex(self.dedup_config)
        self.clusterer = OnlineClusterer(self.cluster_config)
        self._placed: dict[str, Placed] = {}
        self._alias: dict[str, str] = {}
        self._seen = 0
        self._clock: datetime | None = None
        self._forgotten: list[str] = []

    def __len__(self) -> int:
        """How many distinct articles the tracker has placed (and still remembers)."""
        return len(self._placed)

    def story_of(self, article_id: str) -> str | None:
        """The current story of an article, following merges."""
        placed = self._placed.get(article_id)
        return None if placed is None else self.resolve(placed.story_id)

    def resolve(self, story_id: str) -> str:
        """Follow merge aliases to the story that absorbed ``story_id``."""
        path = []
        while story_id in self._alias:
            path.append(story_id)
            story_id = self._alias[story_id]
        for hop in path:
            self._alias[hop] = story_id
        return story_id

    def step(self, article: PreparedArticle) -> Placed:
        """Process one article. The same article id again returns its first result (idempotent)."""
        earlier = self._placed.get(article.id)
        if earlier is not None:
            return Placed(
                earlier.article_id, self.resolve(earlier.story_id), earlier.dedup, (), True
            )
        features = analyse(article)
        verdict = self.dedup.observe(features)
        original_story = self.story_of(verdict.of) if verdict.of else None
        if verdict.kind is not DedupKind.UNIQUE and original_story in self.clusterer.stories:
            assert original_story is not None
            self.clusterer.attach(original_story, features)
            placed = Placed(article.id, original_story, verdict)
        else:
            placement = self.clusterer.place(features)
            for gone in placement.merged_from:
                self._alias[gone] = placement.story_id
            placed = Placed(article.id, placement.story_id, verdict, placement.merged_from)
        self._placed[article.id] = placed
        self._tick(features.time)
        return placed

    def _tick(self, when: datetime) -> None:
        self._clock = max(self._clock or when, when)
        self._seen += 1
        if self._seen % EVICT_EVERY == 0:
            self.evict(self._clock)

    def drain_forgotten(self) -> list[str]:
        """Article ids evicted since the last call (the agent deletes them from its log table)."""
        forgotten, self._forgotten = self._forgotten, []
        return forgotten

    def evict(self, now: datetime) -> None:
        """Drop dedup entries and stories past their retention, and what points at them."""
        self.dedup.evict(now)
        stories = self.clusterer.evict(now)
        if stories:
            # A story's articles are those placed in it, copies attached to it and those of
            # the stories it absorbed: dropped by story, not by a pass over every article
            # placed (which cost a sweep more the longer the stream ran).
            for story in stories:
                for article_id in story.article_ids:
                    if self._placed.pop(article_id, None) is not None:
                        self._forgotten.append(article_id)
            gone = {story.story_id for story in stories}
            self._alias = {a: s for a, s in self._alias.items() if s not in gone}
