"""Shared fixtures. Broker choice: KAFKA_BOOTSTRAP_SERVERS if set, else testcontainers' Kafka if a
Docker engine answers, else a local KRaft broker from Maven jars (agents.broker) on free ports.
Each test gets its own topic prefix and app id, so tests never see each other's data."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
SEEDS = SHARED / "seeds"


def _docker_answers() -> bool:
    try:
        import docker

        docker.from_env(timeout=3).ping()
        return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def kafka_broker() -> Iterator[tuple[str, object | None]]:
    """A real broker for the session: (bootstrap, our LocalBroker, or None when not ours)."""
    external = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if external:
        yield external, None
        return
    if _docker_answers():
        from testcontainers.community.kafka import KafkaContainer  # type: ignore[import-not-found]

        with KafkaContainer().with_kraft() as container:
            yield container.get_bootstrap_server(), None
        return
    from agents.broker import throwaway_broker

    with throwaway_broker() as broker:
        yield broker.bootstrap, broker


@pytest.fixture(scope="session")
def kafka_bootstrap(kafka_broker: tuple[str, object | None]) -> str:
    return kafka_broker[0]


def fresh_env(bootstrap: str, state: Path) -> dict[str, str]:
    """Environment for one isolated run of the service (fresh topics, app id and state dir)."""
    tag = uuid.uuid4().hex[:10]
    from agents.broker import free_port

    return {
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "STORYSTREAM_TOPIC_PREFIX": f"t{tag}.",
        "STORYSTREAM_APP_ID": f"storystream-test-{tag}",
        "STORYSTREAM_STATE_DIR": str(state),
        "STORYSTREAM_WEB_PORT": str(free_port()),
        "STORYSTREAM_DEBOUNCE_SECONDS": "0.3",
    }


@pytest.fixture
def run_env(kafka_bootstrap: str, tmp_path: Path) -> dict[str, str]:
    """A fresh, isolated environment for one test's worker."""
    return fresh_env(kafka_bootstrap, tmp_path / "state")


@pytest.fixture(scope="session")
def seeds_dir() -> Path:
    if not SEEDS.is_dir():
        pytest.skip("../shared/seeds is absent")
    return SEEDS


@pytest.fixture(scope="session")
def expectations(seeds_dir: Path) -> dict[str, object]:
    return json.loads((seeds_dir / "expectations.json").read_text())
