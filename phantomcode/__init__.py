"""phantomcode: transparent, reproducible coding of qualitative interview notes.

The public API, usable from a notebook without the CLI::

    from phantomcode import Project, ingest, load_codebook
"""

__version__ = "0.1.0"

from .codebook import Codebook, load_codebook  # noqa: E402
from .coding import CodingEngine  # noqa: E402
from .ingest import code_project, ingest  # noqa: E402
from .project import Project  # noqa: E402

__all__ = ["Codebook", "CodingEngine", "Project", "code_project", "ingest", "load_codebook", "__version__"]
