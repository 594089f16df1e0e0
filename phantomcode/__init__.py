"""phantomcode: transparent, reproducible coding of qualitative interview notes.

The public API, usable from a notebook without the CLI::

    from phantomcode import Project, ingest, load_codebook
"""

import importlib
import sys
import types

__version__ = "0.1.0"

# Every public name is imported on first use (PEP 562), so that a command pays only for what it
# runs: `phantomcode report` never loads spaCy or the ingest pipeline, `ingest` never loads pandas.
_PUBLIC = {
    "Codebook": "codebook", "CodingEngine": "coding", "Project": "project", "agreement": "agree",
    "build_report": "report", "code_project": "ingest", "evaluate": "evaluate", "export_documents": "export",
    "export_matrix": "export", "export_qdc": "qda", "export_qdpx": "qda", "export_review": "review",
    "export_segments": "export", "import_codebook": "dictionaries", "import_review": "review",
    "ingest": "ingest", "lint_codebook": "codebook", "load_codebook": "codebook", "review_stats": "review",
    "write_report": "report",
}
__all__ = ["__version__", *sorted(_PUBLIC)]


def __getattr__(name: str) -> object:
    if name not in _PUBLIC:
        raise AttributeError(f"module 'phantomcode' has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_PUBLIC[name]}", __name__), name)


class _Package(types.ModuleType):
    """Keeps ``phantomcode.ingest`` and ``phantomcode.evaluate`` the functions the API promises.

    Importing a submodule binds it as an attribute of its package, which would hide the function
    of the same name once, say, the CLI has imported ``phantomcode.ingest``. Such bindings are
    dropped here, so those names keep resolving through ``__getattr__`` to the functions.
    """

    def __setattr__(self, name: str, value: object) -> None:
        if isinstance(value, types.ModuleType) and _PUBLIC.get(name) == name:
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
