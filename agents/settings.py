"""One typed settings object for the whole service, from the environment and an optional file.

Every knob lives here (no stray ``os.getenv`` elsewhere). Variables are prefixed
``STORYSTREAM_``; the broker address also honours the conventional ``KAFKA_BOOTSTRAP_SERVERS``.
``storystream config`` prints the effective values.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Effective configuration of a storystream process."""

    model_config = SettingsConfigDict(
        env_prefix="STORYSTREAM_", env_file=".env", extra="ignore", frozen=True
    )

    bootstrap_servers: str = Field(
        default="127.0.0.1:9092",
        validation_alias=AliasChoices("KAFKA_BOOTSTRAP_SERVERS", "STORYSTREAM_BOOTSTRAP_SERVERS"),
    )
    app_id: str = "storystream"
    topic_prefix: str = Field(default="", description="Prepended to every topic name (tests).")
    raw_topic: str = "articles.raw"
    dlq_topic: str = "articles.dlq"
    prepared_topic: str = "articles.prepared"
    assignments_topic: str = "stories.assignments"
    updates_topic: str = "stories.updates"
    partitions: int = Field(default=4, ge=1)
    partition_by: Literal["language", "section", "global"] = Field(
        default="language", description="Key of the clustering partitions (see README)."
    )
    max_message_bytes: int = Field(default=1_000_000, ge=1024)
    default_source: str = "unknown"
    summary_words: int = Field(default=100, ge=10)
    story_retention_days: float = Field(
        default=14, gt=0, description="Stories quiet this long (event time) leave the state."
    )
    debounce_seconds: float = Field(default=0.5, ge=0.0)
    debounce_max_batch: int = Field(default=500, ge=1)
    state_dir: Path = Path(".state")
    web_port: int = 6066
    log_level: str = "WARNING"

    @classmethod
    def for_environment(cls, overrides: Mapping[str, str]) -> Settings:
        """The settings a process started with these environment overrides will read.

        Tests and benchmarks start workers as child processes with such overrides; reading the
        settings the same way keeps both sides of the process boundary in agreement.
        """
        saved = dict(os.environ)
        os.environ.update(overrides)
        try:
            return cls()
        finally:
            os.environ.clear()
            os.environ.update(saved)

    def topic(self, name: str) -> str:
        """The full name of a topic, with the configured prefix."""
        return f"{self.topic_prefix}{name}"

    @property
    def topics(self) -> dict[str, str]:
        """Logical role -> full topic name, for every topic the service owns."""
        return {
            role: self.topic(getattr(self, f"{role}_topic"))
            for role in ("raw", "dlq", "prepared", "assignments", "updates")
        }
