"""Instructions per article of the core, counted by valgrind: a figure that noise cannot move.

    python bench/instructions.py                        # 300 stories held, 300 articles
    python bench/instructions.py --stories 1000 --articles 500

Wall-clock time on a shared virtual machine swings with its neighbours: ``bench/e2e.py --core
1000`` gave 3.3 to 7.1 ms an article on one machine within an hour. Instructions executed do
not (callgrind counts the same total for the same program and input, whatever else runs), so a
change to the hot path is judged here: a saving that does not show in instructions is noise.

Each stage is run twice under ``valgrind --tool=callgrind``: once with all of ``core_cost``'s
setup (imports, the stories held, the stream's payloads) and its articles, once with the setup
alone; the difference over the number of articles is that stage's instructions per article.
Stages are cumulative as in the worker: parse (validate, clean), + cluster (the tracker step:
tokenise, which the worker's prepare helper does before it, then dedup and clustering), +
summary (the story's fact pool and a new version). The runs go
two at a time (one per core); each takes a minute or two, valgrind being about 50x slower.
Instructions are not time (a cache miss costs more than an add), but on one machine and
interpreter they move with it.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.callgrind import callgrind  # noqa: E402
from bench.e2e import CORE_STAGES, core_cost  # noqa: E402
from bench.kafka_env import cpu_model, interpreter  # noqa: E402


def count(stories: int, articles: int, upto: str, run: bool) -> int:
    """Instructions of one child process running ``core_cost`` under callgrind."""
    mode = "run" if run else "setup"
    arguments = [__file__, "--child", str(stories), str(articles), upto, mode]
    return callgrind(arguments, cwd=ROOT)[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--stories", type=int, default=300, help="stories held before counting")
    parser.add_argument("--articles", type=int, default=300, help="articles counted")
    parser.add_argument(
        "--core-only",
        action="store_true",
        help="count the whole core only, not each stage (two runs, not six)",
    )
    parser.add_argument(
        "--child", nargs=4, metavar=("STORIES", "ARTICLES", "UPTO", "MODE"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.child:
        stories, articles, upto, mode = args.child
        core_cost(int(stories), int(articles), upto=upto, run=mode == "run")
        return
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is needed: apt-get install valgrind")
    stages = CORE_STAGES[-1:] if args.core_only else CORE_STAGES
    jobs = [(upto, run) for upto in stages for run in (False, True)]
    with ThreadPoolExecutor(max_workers=2) as pool:
        totals = dict(
            zip(
                jobs,
                pool.map(lambda job: count(args.stories, args.articles, *job), jobs),
                strict=True,
            )
        )
    per_article = {
        upto: (totals[(upto, True)] - totals[(upto, False)]) / args.articles for upto in stages
    }
    print(
        f"machine: {cpu_model()}; {interpreter()}; "
        f"{args.stories:,} stories held, {args.articles:,} articles counted\n"
    )
    print("| stage | million instructions an article | of the core |")
    print("| --- | --- | --- |")
    core = per_article[CORE_STAGES[-1]]
    previous = 0.0
    for upto in stages if len(stages) > 1 else ():
        own = per_article[upto] - previous
        previous = per_article[upto]
        print(f"| {upto} | {own / 1e6:.2f} | {100 * own / core:.0f} % |")
    print(f"| core | {core / 1e6:.2f} | 100 % |")


if __name__ == "__main__":
    main()
