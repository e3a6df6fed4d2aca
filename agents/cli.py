"""The ``storystream`` command.

typer, not faust's own click commands: faust's CLI wants the app importable at module level from
a fixed path, while our app is built from typed settings at run time; typer gives typed options,
help text and the offline commands (``cluster``, ``summarize``) that need no broker at all.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from agents.broker import LocalBroker
from agents.settings import Settings

cli = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
broker_cli = typer.Typer(no_args_is_help=True, help="The local Apache Kafka broker (KRaft).")
cli.add_typer(broker_cli, name="broker")

SAMPLE_FEED = Path(__file__).resolve().parents[1] / "data" / "sample_feed.jsonl"


def _settings() -> Settings:
    return Settings()


def _local_broker(port: int = 9092) -> LocalBroker:
    return LocalBroker(home=_settings().state_dir / "kafka", port=port, controller_port=port + 1)


@broker_cli.command("start")
def broker_start(port: int = 9092) -> None:
    """Fetch Kafka (first time), start a local KRaft broker, wait until it answers."""
    broker = _local_broker(port)
    typer.echo(broker.start())


@broker_cli.command("stop")
def broker_stop(port: int = 9092) -> None:
    """Stop the local broker cleanly."""
    broker = _local_broker(port)
    typer.echo("stopped" if broker.stop() else "not running")


@broker_cli.command("status")
def broker_status(port: int = 9092) -> None:
    """Say whether the local broker runs and answers."""
    broker = _local_broker(port)
    typer.echo(broker.status())


@cli.command()
def topics() -> None:
    """Create the service's topics (partitions and configs) if they are missing."""
    from agents.topics import ensure_topics

    created = ensure_topics(_settings())
    typer.echo(f"created: {', '.join(created) or 'none (all exist)'}")


@cli.command()
def worker() -> None:
    """Run the faust worker (prepare, cluster, summarise agents) until stopped."""
    from agents.app import build_app
    from agents.logs import faust_worker_class, setup_logging
    from agents.runtime import allocator_in_use, run_under_mimalloc, tune_garbage_collector
    from agents.topics import ensure_topics

    settings = _settings()
    setup_logging(settings.log_level)
    if settings.allocator == "mimalloc":
        run_under_mimalloc()  # returns only once it is (or cannot be)
    logging.getLogger("storystream").info("allocator: %s", allocator_in_use())
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    ensure_topics(settings)
    app = build_app(settings)
    tune_garbage_collector()
    worker_class = faust_worker_class()
    worker_class(app, loglevel=settings.log_level.lower(), quiet=True).execute_from_commandline()


@cli.command()
def ingest(
    path: Annotated[str, typer.Argument(help="JSONL, ninjs JSON, a folder of .txt, or - (stdin).")],
    rate: Annotated[
        float, typer.Option(help="Articles per second; 0 = as fast as possible.")
    ] = 0.0,
    topic: Annotated[
        str | None, typer.Option(help="Target topic (default: the raw topic).")
    ] = None,
) -> None:
    """Produce a feed to ``articles.raw`` with a progress bar."""
    from agents.feeds import feed_messages, make_producer, produce

    settings = _settings()
    producer = make_producer(settings.bootstrap_servers)
    try:
        sent = produce(producer, topic or settings.topics["raw"], feed_messages(path), rate=rate)
    finally:
        producer.close()
    typer.echo(f"sent {sent} messages", err=True)


@cli.command()
def tail(
    topic: Annotated[str, typer.Argument(help="Topic name, or a role: raw, dlq, updates...")],
    count: Annotated[int, typer.Option(help="Stop after this many messages (0 = never).")] = 0,
    idle: Annotated[float, typer.Option(help="Stop after this many idle seconds (0 = never).")] = 0,
    pretty: Annotated[bool, typer.Option(help="Print story updates for people.")] = False,
) -> None:
    """Print a topic's messages as JSON lines (or readable story updates)."""
    from agents.feeds import make_consumer
    from agents.render import render_update

    settings = _settings()
    name = settings.topics.get(topic, topic)
    consumer = make_consumer(settings.bootstrap_servers, name)
    seen, last = 0, time.monotonic()
    try:
        while not count or seen < count:
            got = False
            for message in consumer:
                got = True
                seen += 1
                text = message.value.decode("utf-8", errors="replace")
                typer.echo(render_update(text) if pretty else text)
                if count and seen >= count:
                    break
            if got:
                last = time.monotonic()
            elif idle and time.monotonic() - last > idle:
                break
    finally:
        consumer.close()


@cli.command()
def cluster(
    articles: Annotated[
        Path, typer.Argument(help="Article JSON lines, in arrival order (- = stdin).")
    ],
    partition_by: Annotated[
        str, typer.Option(help="Clustering partition key: language, section or global.")
    ] = "language",
) -> None:
    """Offline replay: a JSON line per article ({article_id, story_id, dedup}), plus merges."""
    from stream.offline import cluster_records, read_articles
    from stream.prepare import Rejected

    lines = sys.stdin if str(articles) == "-" else articles.open(encoding="utf-8")
    good = []
    for item in read_articles(lines):
        if isinstance(item, Rejected):
            typer.echo(f"skipped: {item.reason}", err=True)
        else:
            good.append(item)
    for record in cluster_records(good, partition_by):
        typer.echo(json.dumps(record, ensure_ascii=False))


@cli.command()
def summarize(
    articles: Annotated[Path, typer.Argument(help="One story's articles as JSON lines.")],
    words: Annotated[int, typer.Option(help="Word budget of the summary.")] = 100,
    seen: Annotated[
        Path | None, typer.Option(help="Articles the reader has read: print only what is new.")
    ] = None,
) -> None:
    """Summarise one story: {headline, sentences: [{text, article_ids, sources}], words}."""
    from stream.models import PreparedArticle
    from stream.offline import read_articles, summarize_records
    from stream.prepare import Rejected

    def load(path: Path) -> list[PreparedArticle]:
        items = list(read_articles(path.open(encoding="utf-8")))
        for item in items:
            if isinstance(item, Rejected):
                typer.echo(f"skipped: {item.reason}", err=True)
        return [i for i in items if not isinstance(i, Rejected)]

    result = summarize_records(load(articles), words=words, seen=load(seen) if seen else None)
    typer.echo(json.dumps(result, ensure_ascii=False, indent=2))


@cli.command()
def demo(
    feed: Annotated[Path, typer.Option(help="Feed to replay.")] = SAMPLE_FEED,
    rate: Annotated[float, typer.Option(help="Articles per second.")] = 4.0,
    serve: Annotated[
        bool, typer.Option(help="Keep the worker and dashboard running after the feed (Ctrl-C).")
    ] = False,
) -> None:
    """Start a local broker and a worker, replay the sample feed, print story updates, stop."""
    from agents.demo import run_demo

    raise typer.Exit(run_demo(_settings(), feed, rate, serve=serve))


@cli.command()
def schemas(
    folder: Annotated[Path, typer.Argument(help="Where to write the JSON Schemas.")] = Path(
        "schemas"
    ),
) -> None:
    """Regenerate the JSON Schemas of the public messages and the API's OpenAPI document."""
    from agents.openapi import render_openapi
    from stream.schemas import write_schemas

    for path in write_schemas(folder):
        typer.echo(path)
    openapi = folder / "openapi.json"
    openapi.write_text(render_openapi())
    typer.echo(openapi)


@cli.command()
def config() -> None:
    """Print the effective configuration."""
    typer.echo(_settings().model_dump_json(indent=2))


def main() -> None:
    """Entry point of the ``storystream`` script."""
    cli()
