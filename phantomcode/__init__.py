"""phantomcode: transparent, reproducible coding of qualitative interview notes.

The public API, usable from a notebook without the CLI::

    from phantomcode import Project, ingest, load_codebook
"""

import importlib as _importlib
import sys as _sys
import types as _types

__version__ = "0.1.0"

# Every public name is imported on first use (PEP 562), so that a command pays only for what it
# runs: `phantomcode report` never loads spaCy, `ingest` never loads pandas.
_PUBLIC = {
    "Codebook": "codebook",
    "CodingEngine": "coding",
    "Project": "project",
    "agreement": "agree",
    "build_report": "report",
    "code_project": "ingest",
    "evaluate": "evaluate",
    "export_documents": "export",
    "export_matrix": "export",
    "export_qdc": "qda",
    "export_qdpx": "qda",
    "export_review": "review",
    "export_segments": "export",
    "import_codebook": "dictionaries",
    "import_qdpx": "qda_import",
    "import_review": "review",
    "ingest": "ingest",
    "lint_codebook": "codebook",
    "load_codebook": "codebook",
    "review_stats": "review",
    "scan_identifiers": "pii",
    "write_report": "report",
    "train": "training",
    "TrainReport": "training",
    "suggest_for_review": "suggest",
    "Suggestion": "suggest",
}
__all__ = ["__version__", *sorted(_PUBLIC)]


def __getattr__(name: str) -> object:
    if name not in _PUBLIC:
        raise AttributeError(f"module 'phantomcode' has no attribute {name!r}")
    return getattr(_importlib.import_module(f".{_PUBLIC[name]}", __name__), name)


def __dir__() -> list[str]:
    """The public names too, though not yet imported: a notebook's tab completion lists them."""
    return sorted({*globals(), *__all__})


class _Package(_types.ModuleType):
    """Keeps ``phantomcode.ingest`` and ``phantomcode.evaluate`` the functions the API promises.

    Importing a submodule binds it as an attribute of its package, which would hide the function
    of the same name once, say, the CLI has imported ``phantomcode.ingest``. Such bindings are
    dropped here, so those names keep resolving through ``__getattr__`` to the functions.
    """

    def __setattr__(self, name: str, value: object) -> None:
        if isinstance(value, _types.ModuleType) and _PUBLIC.get(name) == name:
            return
        super().__setattr__(name, value)


_sys.modules[__name__].__class__ = _Package
