"""``storystream demo``: the whole system on the sample feed, on this machine, then a clean stop.

Mirrors ``docker-compose.yml``: a KRaft broker, topic creation, one worker; plus a producer that
replays the feed at a realistic pace and a consumer that prints each story update as it comes.
Each run uses its own topic prefix, so a second demo on the same broker starts from a clean slate.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

from agents.broker import LocalBroker, answers_metadata, free_port, port_is_free
from agents.feeds import feed_messages, make_consumer, make_producer, produce
from agents.helpers import killed_with_parent
from agents.render import render_update
from agents.settings import Settings
from agents.topics import ensure_topics
from stream.models import DeadLetter

QUIET_SECONDS = 8.0
"""How long after the last message the demo waits for late updates before stopping."""


def start_worker(settings: Settings, env_overrides: dict[str, str]) -> subprocess.Popen[bytes]:
    """Start ``storystream worker`` as a child process with the given settings overrides."""
    env = {**os.environ, **env_overrides}
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(
        [sys.executable, "-m", "agents", "worker"],
        env=env,
        start_new_session=True,
        # A worker outlives a killed launcher otherwise (its own session): one left from an
        # interrupted benchmark took a third of a core from every run after it.
        preexec_fn=killed_with_parent,
        stdout=subprocess.DEVNULL,
        stderr=(settings.state_dir / "worker.log").open("ab"),
    )


def wait_until_consuming(bootstrap: str, group: str, timeout: float = 90.0) -> bool:
    """Wait until the worker's consumer group is stable (it owns its partitions)."""
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaError

    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="storystream-wait")
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            try:
                info = admin.describe_groups([group]).get(group, {})
            except KafkaError:
                info = {}
            state = str(info.get("group_state") or info.get("state") or "")
            if state.lower() == "stable" and info.get("members"):
                return True
            time.sleep(0.5)
        return False
    finally:
        admin.close()


def stop_worker(process: subprocess.Popen[bytes], wait: float = 30.0) -> int:
    """Stop a worker cleanly (SIGTERM, then SIGKILL after ``wait``)."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(wait)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    return process.returncode


def run_demo(settings: Settings, feed: Path, rate: float, serve: bool = False) -> int:
    """Run the demo; returns a process exit code. ``serve`` keeps the dashboard up at the end."""
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    broker: LocalBroker | None = None
    bootstrap = settings.bootstrap_servers
    if not answers_metadata(bootstrap, timeout=2):
        port = 9092 if bootstrap.endswith(":9092") else free_port()
        broker = LocalBroker(settings.state_dir / "kafka", port=port, controller_port=free_port())
        print("starting a local Kafka broker (first run fetches its jars with mvn) ...", flush=True)
        bootstrap = broker.start()
    prefix = f"demo-{int(time.time())}."
    overrides = {
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "STORYSTREAM_TOPIC_PREFIX": prefix,
        "STORYSTREAM_APP_ID": f"storystream-{prefix.rstrip('.')}",
        "STORYSTREAM_WEB_PORT": str(
            settings.web_port if port_is_free(settings.web_port) else free_port()
        ),
    }
    run = settings.model_copy(
        update={
            "bootstrap_servers": bootstrap,
            "topic_prefix": prefix,
            "app_id": overrides["STORYSTREAM_APP_ID"],
        }
    )
    ensure_topics(run)
    print(f"broker {bootstrap}; topics {prefix}*; starting the worker ...", flush=True)
    worker = start_worker(run, overrides)
    if not wait_until_consuming(bootstrap, run.app_id):
        print("the worker did not join its consumer group in time; replaying anyway", flush=True)
    dashboard = f"http://127.0.0.1:{overrides['STORYSTREAM_WEB_PORT']}/"
    print(f"live dashboard: {dashboard}  (API: {dashboard}stories)", flush=True)
    done = threading.Event()

    def replay() -> None:
        producer = make_producer(bootstrap)
        try:
            produce(
                producer, run.topics["raw"], feed_messages(str(feed)), rate=rate, progress=False
            )
        finally:
            producer.close()
            done.set()

    threading.Thread(target=replay, daemon=True).start()
    updates = make_consumer(bootstrap, run.topics["updates"])
    stories: set[str] = set()
    count, last = 0, time.monotonic()
    try:
        while not (done.is_set() and time.monotonic() - last > QUIET_SECONDS):
            if worker.poll() is not None:
                print(
                    f"worker exited with {worker.returncode}; "
                    f"see {settings.state_dir / 'worker.log'}"
                )
                return 1
            for message in updates:
                count += 1
                last = time.monotonic()
                stories.add(message.key.decode() if message.key else "")
                print(render_update(message.value.decode()), "\n", flush=True)
            if not done.is_set():
                last = time.monotonic()
        if serve:
            print(f"feed done; dashboard still at {dashboard} (Ctrl-C to stop)", flush=True)
            while worker.poll() is None:
                time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        updates.close()
        stop_worker(worker)
        reasons = _dead_letters(bootstrap, run.topics["dlq"])
        print(
            f"{count} story updates, {len(stories)} stories; dead letters: "
            f"{sum(reasons.values())} {dict(reasons)}"
        )
        if broker is not None:
            broker.stop()
            print("local broker stopped")
    return 0 if count else 1


def _dead_letters(bootstrap: str, topic: str) -> Counter[str]:
    consumer = make_consumer(bootstrap, topic)
    try:
        return Counter(DeadLetter.model_validate_json(m.value).error_type for m in consumer)
    finally:
        consumer.close()
