"""The two rich consoles every command shares: data on stdout, messages and progress on stderr."""

from __future__ import annotations

from dataclasses import dataclass

from rich.console import Console

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


@dataclass
class Settings:
    """Options of the ``phantomcode`` group itself, for the commands that honour them."""

    debug: bool = False  # show the traceback kept for each note skipped on an unexpected error


settings = Settings()
