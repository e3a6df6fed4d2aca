"""One typed settings object for the whole service, from the environment and an optional file.

Every knob lives here (no stray ``os.getenv`` elsewhere). Variables are prefixed
``STORYSTREAM_``; the broker address also honours the conventional ``KAFKA_BOOTSTRAP_SERVERS``.
Sources, strongest first: environment, a ``.env`` file, then a TOML file (``storystream.toml`` in
the working directory, or the path in ``STORYSTREAM_CONFIG``) whose keys are the field names.
``storystream config`` prints the effective values.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)


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
    alerts_topic: str = "stories.alerts"
    partitions: int = Field(default=4, ge=1)
    partition_by: Literal["language", "section", "global"] = Field(
        default="language", description="Key of the clustering partitions (see README)."
    )
    max_message_bytes: int = Field(default=1_000_000, ge=1024)
    default_source: str = "unknown"
    prepare_processes: int = Field(
        default=1,
        ge=0,
        description="Helper processes that parse, clean and tokenise (0: in the worker itself).",
    )
    summary_process: bool = Field(
        default=True,
        description="Summarise in helper processes that keep story states parsed (else inline).",
    )
    # Two: at 300 articles/s on two cores the one summary helper was the stage that queued
    # (0.65 of a core; bench/e2e.py, README "Session 16").
    summary_processes: int = Field(
        default=2,
        ge=1,
        description="Summary helper processes; each owns the stories whose id hashes to it.",
    )
    cluster_process: bool = Field(
        default=True,
        description="Dedup and cluster in a helper process that holds the trackers (else inline).",
    )
    cluster_max_batch: int = Field(
        default=200, ge=1, description="Most prepared articles a clustering batch takes."
    )
    # 0.02 s. The clustering stage's input comes in bursts: each prepare batch is one bundle a
    # partition on articles.prepared, sent at once. A short window takes each burst as it
    # arrives (batches of 30.6-30.8 articles at 300/s against 35.4-36.2 with 0.1 s: about one
    # prepare batch either way), where 0.1 s only held it back, 0.05 s on average. At 300
    # articles/s at the steady state: prepared -> assigned p50 0.14-0.15 -> 0.08 s, for the same
    # CPU (bench/e2e.py, alternated runs, README "Session 34"). The 0.1 s chosen before
    # predates the bundles and the gathered batches: articles came one a message, and a short
    # window meant a few articles a batch.
    cluster_batch_seconds: float = Field(
        default=0.02, gt=0, description="Longest wait to fill a clustering batch."
    )
    prepare_max_batch: int = Field(
        default=32,
        ge=1,
        description="Most raw messages a prepare batch takes (bursts stall the loop).",
    )
    prepare_batch_seconds: float = Field(
        default=0.1, gt=0, description="Longest wait to fill a batch for the prepare helpers."
    )
    producer_linger_ms: int = Field(
        default=30,
        ge=0,
        description="How long the worker's producer waits to fill a request (fewer, larger ones).",
    )
    summary_words: int = Field(default=100, ge=10)
    story_retention_days: float = Field(
        default=14, gt=0, description="Stories quiet this long (event time) leave the state."
    )
    # 0.02 s, for the reason the clustering window is (above): the commands come in bursts, one
    # bundle a partition a clustering batch, and a short window takes each as it arrives. At 300
    # articles/s at the steady state: assigned -> update p50 0.15-0.18 -> 0.09 s, 0.970 versions
    # a command against 0.955 (README "Session 34"). The window was 0.5 s, then 0.1 s (it made
    # 5 % more versions an article than 0.25 s for the same helper CPU), both chosen before the
    # bundles.
    debounce_seconds: float = Field(
        default=0.02, ge=0.0, description="Longest wait to fill a batch of summary commands."
    )
    debounce_max_batch: int = Field(default=500, ge=1)
    state_dir: Path = Path(".state")
    web_host: str = Field(default="127.0.0.1", description="0.0.0.0 in containers.")
    web_port: int = Field(default=6066, ge=1, le=65535)
    ready_max_lag: int = Field(
        default=10_000, ge=0, description="/readyz fails while the consumer lag is above this."
    )
    breaking_outlets: int = Field(
        default=3, ge=2, description="Alert 'breaking': this many distinct outlets..."
    )
    breaking_minutes: float = Field(default=60, gt=0, description="...within this many minutes.")
    resume_quiet_hours: float = Field(
        default=6, gt=0, description="Alert 'resumed': new coverage after this long quiet."
    )
    allocator: Literal["mimalloc", "python"] = Field(
        default="mimalloc",
        description="The worker's memory allocator: mimalloc on huge pages, or Python's own.",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "WARNING"

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Environment over ``.env`` over the TOML file."""
        toml_file = Path(os.environ.get("STORYSTREAM_CONFIG", "storystream.toml"))
        return (
            init_settings,
            env_settings,
            dotenv_settings,
            TomlConfigSettingsSource(settings_cls, toml_file=toml_file),
        )

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
            for role in ("raw", "dlq", "prepared", "assignments", "updates", "alerts")
        }
