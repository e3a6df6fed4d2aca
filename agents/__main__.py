"""Run the CLI with ``python -m agents``."""

from agents.cli import main

main()
