"""``python -m phantomcode`` runs the CLI (used by tests that need a separate process)."""

from .cli import main

main()
