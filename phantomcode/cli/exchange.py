"""Exchange formats: ``codebook export|import``, ``export qdpx`` and ``export matrix``.

The commands join the existing ``codebook`` and ``export`` groups (registered in ``cli/__init__``).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from ..outputs import choose_format, write_output
from ..sanitise import markup_text as escape
from ._console import err, out
from ._options import CodebookOption, ProjectOption
from ._parsing import text_output

MAX_LISTED = 10


def codebook_export_command(
    file: Annotated[
        Path | None,
        typer.Argument(help="Codebook YAML file (default: the bundled deflection.yaml).", show_default=False),
    ] = None,
    fmt: Annotated[
        str,
        typer.Option(
            "--format", "-f", help="qdc (REFI-QDA codebook) or taguette (Taguette's CSV codebook: tag,description)."
        ),
    ] = "qdc",
    out_file: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Output file (default: CODEBOOK.qdc or CODEBOOK.csv).", show_default=False),
    ] = None,
) -> None:
    """Write the codebook as a REFI-QDA .qdc (NVivo, ATLAS.ti, MAXQDA, QualCoder) or Taguette's CSV."""
    from ..codebook_choice import (
        codebook_path_for,  # the codebook modules and lxml: not for 'export segments'
    )

    fmt = choose_format(fmt, None, formats=("qdc", "taguette"), default="qdc")
    source = codebook_path_for(file, None)
    target = out_file or Path(source.with_suffix(".qdc" if fmt == "qdc" else ".csv").name)
    if fmt == "qdc":
        from ..qda import export_qdc

        count = export_qdc(source, out=target)
    else:
        from ..taguette import export_taguette

        count = export_taguette(source, out=target)
    err.print(f"wrote {count} codes to {escape(str(target))}")


def codebook_import_command(
    file: Annotated[
        Path,
        typer.Argument(
            help="A .qdc codebook (or the codebook of a .qdpx/.qde project), quanteda YAML dictionary or LIWC .dic.",
            show_default=False,
        ),
    ],
    fmt: Annotated[
        str | None,
        typer.Option(
            "--format",
            "-f",
            help="qdc, quanteda or liwc (default: from the suffix: .qdc/.qdpx/.qde, .yml/.yaml, .dic).",
            show_default=False,
        ),
    ] = None,
    out_file: Annotated[
        Path | None, typer.Option("--out", "-o", help="YAML codebook to write (default: stdout).", show_default=False)
    ] = None,
    name: Annotated[
        str | None, typer.Option("--name", help="The codebook's name (default: the file's).", show_default=False)
    ] = None,
    any_form: Annotated[
        bool,
        typer.Option(
            "--any-form",
            help="Dictionary entries without * also match other "
            "forms of the word (default: exact forms, as in the dictionary).",
        ),
    ] = False,
) -> None:
    """Turn a .qdc, quanteda or LIWC dictionary into a phantomcode YAML codebook to review and fill in."""
    from ..codebook import lint_codebook
    from ..dictionaries import import_codebook

    result = import_codebook(file, fmt=fmt, name=name, exact_forms=not any_form)
    if out_file is None:
        out.file.write(result.text)
    else:
        write_output(out_file, lambda handle: handle.write(result.text))
    problems = lint_codebook(out_file or Path("<stdout>"), source=result.text.encode("utf-8"))
    errors = sum(p.severity == "error" for p in problems)
    what = "rules to fill in" if result.fmt == "qdc" else f"{result.terms} terms"
    err.print(
        f"wrote {result.codes} codes ({what}) to {escape(str(out_file or 'stdout'))}; lint: "
        f"{errors} error(s), {len(problems) - errors} warning(s)"
    )
    for problem in problems:
        if problem.severity == "error":
            err.print(f"  {escape(str(problem))}")
    for warning in result.warnings[:MAX_LISTED]:
        err.print(f"[yellow]note:[/] {escape(warning)}")
    if len(result.warnings) > MAX_LISTED:
        err.print(f"... {len(result.warnings) - MAX_LISTED} more (listed at the top of the YAML)")


def qdpx_command(
    out_file: Annotated[Path, typer.Option("--out", "-o", help="The .qdpx file to write.", show_default=False)],
    include_unreviewed: Annotated[
        bool,
        typer.Option(
            "--include-unreviewed", help="Every coding that counts and is not rejected (default: accepted ones only)."
        ),
    ] = False,
    name: Annotated[
        str | None, typer.Option("--name", help="Project name (default: the project file's).", show_default=False)
    ] = None,
    cases: Annotated[
        bool,
        typer.Option(
            "--cases",
            help="Also one case per document with its attributes (QualCoder then shows them as case attributes only).",
        ),
    ] = False,
    project: ProjectOption = None,
    codebook: CodebookOption = None,
) -> None:
    """REFI-QDA project (.qdpx): notes, attributes as variables, codebook and accepted codings."""
    from ..qda import export_qdpx

    result = export_qdpx(
        project=project, out=out_file, include_unreviewed=include_unreviewed, codebook=codebook, name=name, cases=cases
    )
    err.print(
        f"wrote {result.sources} notes, {result.codes} codes, {result.variables} variables and "
        f"{result.codings} codings to {escape(result.out)}"
    )
    if not result.codings and not include_unreviewed:
        err.print(
            "[yellow]no accepted codings yet:[/] review them (phantomcode review export/import) or add "
            "--include-unreviewed"
        )


def matrix_command(
    fmt: Annotated[
        str | None,
        typer.Option(
            "--format", "-f", help="csv or jsonl (default: from --out's suffix, else csv).", show_default=False
        ),
    ] = None,
    out_file: Annotated[
        Path | None, typer.Option("--out", "-o", help="Output file (default: stdout).", show_default=False)
    ] = None,
    status: Annotated[
        str | None,
        typer.Option("--status", help="accepted: count only codings accepted in review.", show_default=False),
    ] = None,
    bom: Annotated[bool, typer.Option("--bom", help="Start the --out file with a UTF-8 BOM (for Excel).")] = False,
    project: ProjectOption = None,
    codebook: CodebookOption = None,
) -> None:
    """One row per document: doc_id, attributes and a 0/1 column per code, for R and Stata."""
    from ..export import export_matrix

    count = export_matrix(
        project=project, fmt=fmt, out=text_output(out_file), status=status, codebook=codebook, bom=bom
    )
    sys.stdout.flush()
    if out_file is not None:
        err.print(f"wrote {count} documents to {escape(str(out_file))}")
