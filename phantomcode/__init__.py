"""phantomcode: transparent, reproducible coding of qualitative interview notes.

The public API, usable from a notebook without the CLI::

    from phantomcode import Project, ingest, load_codebook
"""

__version__ = "0.1.0"

# Functions named like their modules are bound now (a submodule import would otherwise shadow them);
# the other public names are imported on first use (PEP 562), so that `phantomcode ingest` does not
# pay for pandas, matplotlib or lxml, which only reports and exchange formats need.
from .evaluate import evaluate  # noqa: E402
from .ingest import code_project, ingest  # noqa: E402

_PUBLIC = {
    "Codebook": "codebook", "CodingEngine": "coding", "Project": "project", "agreement": "agree",
    "build_report": "report", "export_documents": "export", "export_matrix": "export", "export_qdc": "qda", "export_qdpx": "qda",
    "export_review": "review", "export_segments": "export", "import_codebook": "dictionaries",
    "import_review": "review", "lint_codebook": "codebook", "load_codebook": "codebook",
    "review_stats": "review", "write_report": "report",
}
__all__ = ["__version__", "code_project", "evaluate", "ingest", *sorted(_PUBLIC)]


def __getattr__(name: str) -> object:
    if name not in _PUBLIC:
        raise AttributeError(f"module 'phantomcode' has no attribute {name!r}")
    import importlib

    module = importlib.import_module(f".{_PUBLIC[name]}", __name__)
    return getattr(module, name)
