"""storystream's pure core: models, cleaning, dedup, clustering and summaries. No I/O here."""

from stream.cluster import ClusterConfig, OnlineClusterer
from stream.dedup import DedupConfig, DedupIndex
from stream.models import (
    Article,
    Assignment,
    DeadLetter,
    DedupKind,
    DedupVerdict,
    MergeEvent,
    PreparedArticle,
    StoryUpdate,
    SummarySentence,
)
from stream.prepare import Rejected, parse_article, prepare
from stream.story import StoryState
from stream.summarize import SummaryConfig
from stream.tracker import Placed, StoryTracker

__all__ = [
    "Article",
    "Assignment",
    "ClusterConfig",
    "DeadLetter",
    "DedupConfig",
    "DedupIndex",
    "DedupKind",
    "DedupVerdict",
    "MergeEvent",
    "OnlineClusterer",
    "Placed",
    "PreparedArticle",
    "Rejected",
    "StoryState",
    "StoryTracker",
    "StoryUpdate",
    "SummaryConfig",
    "SummarySentence",
    "parse_article",
    "prepare",
]
