"""``phantomcode codebook lint|show|test``: check, browse and test a codebook."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.tree import Tree

from ..codebook import lint_codebook, load_codebook
from ..codebook_choice import codebook_path_for, project_codebook_path
from ..sanitise import markup_text as escape
from ._console import err, out

app = typer.Typer(
    help="Check, browse and test a codebook (default: the bundled deflection codebook).", no_args_is_help=True
)

FileArgument = Annotated[
    Path | None,
    typer.Argument(
        help="Codebook YAML file, or 'bundled' (default: the --project's codebook, else the bundled deflection.yaml).",
        show_default=False,
    ),
]
ProjectOption = Annotated[
    Path | None,
    typer.Option("--project", "-p", help="Use this project's codebook when no FILE is given.", show_default=False),
]


def codebook_file(file: Path | None, project: Path | None) -> Path:
    """FILE, else the project's codebook when --project is given, else the bundled one."""
    return project_codebook_path(project, file) if project is not None else codebook_path_for(file, None)


@app.command("lint")
def lint_command(file: FileArgument = None, project: ProjectOption = None) -> None:
    """Report every problem in a codebook with file:line:column and a rule ID; exit 1 on errors."""
    problems = lint_codebook(codebook_file(file, project))
    for problem in problems:
        colour = "red" if problem.severity == "error" else "yellow"
        out.print(f"[{colour}]{escape(str(problem))}[/]")
    errors = sum(p.severity == "error" for p in problems)
    err.print(f"{errors} error(s), {len(problems) - errors} warning(s)", soft_wrap=True)
    if errors:
        raise typer.Exit(1)


@app.command("show")
def show_command(file: FileArgument = None, project: ProjectOption = None) -> None:
    """Show the codebook as a tree: groups, codes, definitions and how many rules of each kind."""
    book = load_codebook(codebook_file(file, project))
    tree = Tree(f"[bold]{escape(book.name)}[/] {escape(book.version)} (unit: {book.unit})")
    for group, code_ids in book.groups.items():
        branch = tree.add(f"[bold magenta]{escape(group)}[/]")
        for code_id in code_ids:
            code = book.code(code_id)
            counts = _counts(code.rules.counts())
            vetoes = f"; veto: {_counts(code.veto.counts())}" if code.veto else ""
            node = branch.add(f"[bold cyan]{code.id}[/] {escape(code.label)} [dim]({counts}{vetoes})[/]")
            node.add(escape(code.definition))
    out.print(tree, soft_wrap=False)


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {kind}" for kind, n in counts.items() if n)


@app.command("test")
def test_command(file: FileArgument = None, project: ProjectOption = None) -> None:
    """Run every example: positives must get their code, negatives must not; exit 1 on any failure."""
    from ..coding import (
        check_examples,  # the matching engine: only this command of the group needs it
    )

    results = check_examples(load_codebook(codebook_file(file, project)))
    failures = [r for r in results if not r.passed]
    for result in failures:
        out.print(
            f"[red]FAIL[/] {result.code} {result.kind}: {escape(repr(result.text))}\n     {escape(result.detail)}"
        )
    err.print(f"{len(results)} examples: {len(results) - len(failures)} passed, {len(failures)} failed", soft_wrap=True)
    if failures:
        raise typer.Exit(1)
