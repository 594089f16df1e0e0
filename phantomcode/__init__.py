"""phantomcode: transparent, reproducible coding of qualitative interview notes.

The public API, usable from a notebook without the CLI::

    from phantomcode import Project, ingest, load_codebook
"""

__version__ = "0.1.0"

from .agree import agreement  # noqa: E402
from .codebook import Codebook, lint_codebook, load_codebook  # noqa: E402
from .coding import CodingEngine  # noqa: E402
from .dictionaries import import_codebook  # noqa: E402
from .evaluate import evaluate  # noqa: E402
from .export import export_documents, export_matrix, export_segments  # noqa: E402
from .ingest import code_project, ingest  # noqa: E402
from .pii import scan as scan_identifiers  # noqa: E402
from .project import Project  # noqa: E402
from .qda import export_qdc, export_qdpx  # noqa: E402
from .report import build_report, write_report  # noqa: E402
from .review import export_review, import_review, review_stats  # noqa: E402

__all__ = [
    "Codebook", "CodingEngine", "Project", "__version__", "agreement", "build_report", "code_project",
    "evaluate", "export_documents", "export_matrix", "export_qdc", "export_qdpx", "export_review",
    "export_segments", "import_codebook", "import_review", "ingest", "lint_codebook", "load_codebook",
    "review_stats", "scan_identifiers", "write_report",
]
