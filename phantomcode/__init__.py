"""phantomcode: transparent, reproducible coding of qualitative interview notes."""

__version__ = "0.1.0"
