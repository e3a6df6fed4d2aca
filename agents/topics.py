"""Create the service's topics explicitly, with partitions and configs (kafka-python admin)."""

from __future__ import annotations

from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError

from agents.settings import Settings

WEEK_MS = str(7 * 24 * 3600 * 1000)
TOPIC_CONFIGS: dict[str, dict[str, str]] = {
    "raw": {"retention.ms": WEEK_MS, "max.message.bytes": "4194304"},
    "dlq": {"retention.ms": str(30 * 24 * 3600 * 1000), "max.message.bytes": "8388608"},
    "prepared": {"retention.ms": WEEK_MS},
    "assignments": {"retention.ms": WEEK_MS, "max.message.bytes": "8388608"},
    "updates": {"retention.ms": WEEK_MS, "max.message.bytes": "4194304"},
    "alerts": {"retention.ms": str(30 * 24 * 3600 * 1000)},
}
"""Per-role configs: the DLQ keeps a month for forensics; the rest a week of replay."""


def ensure_topics(settings: Settings) -> list[str]:
    """Create any missing topic; returns the names created (existing ones are left alone)."""
    admin = KafkaAdminClient(
        bootstrap_servers=settings.bootstrap_servers, client_id="storystream-admin"
    )
    try:
        existing = set(admin.list_topics())
        wanted = [
            NewTopic(name, settings.partitions, 1, topic_configs=TOPIC_CONFIGS[role])
            for role, name in settings.topics.items()
            if name not in existing
        ]
        created: list[str] = []
        for topic in wanted:
            try:
                admin.create_topics([topic])
                created.append(topic.name)
            except TopicAlreadyExistsError:
                pass
        return created
    finally:
        admin.close()
