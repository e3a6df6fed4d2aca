"""Each stage hands a batch on at once, whatever the producer's linger (agents.sending)."""

from __future__ import annotations

import pytest

from agents.feeds import feed_messages
from tests.factories import ARTICLES_IN_SAMPLE, SAMPLE
from tests.harness import collect_updates, running_worker, send

pytestmark = pytest.mark.kafka


def test_batches_go_out_without_waiting_for_the_linger(run_env):
    # Ten minutes of linger: a hop that waited for it (a bundle, the flush before a batch's
    # versions, the versions themselves) would hold the story back far past the test's wait.
    env = {**run_env, "STORYSTREAM_PRODUCER_LINGER_MS": "600000"}
    with running_worker(env) as settings:
        send(settings, feed_messages(str(SAMPLE)))
        latest, _ = collect_updates(
            settings,
            lambda stories: sum(len(u.article_ids) for u in stories.values()) >= ARTICLES_IN_SAMPLE,
            timeout=60.0,
        )
    assert sum(len(u.article_ids) for u in latest.values()) >= ARTICLES_IN_SAMPLE
