"""Rebuild the bundled codebook's default model shipped in the package.

    python bench/build_default_model.py

Trains it exactly as a new project would (``phantomcode.training.default_model`` with seed 0, from
the bundled codebook's examples and its bundled labelled sets) and writes it to
``phantomcode/data/`` (:func:`phantomcode.training.shipped_model_path`). Run it after changing the
bundled codebook's examples, the bundled sets or the learned layer's parameters; the test suite
says when the shipped model is out of date. Deterministic: the same inputs give the same bytes.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from phantomcode.codebook import load_codebook  # noqa: E402
from phantomcode.coding.learned import fit  # noqa: E402
from phantomcode.training import labelled_sentences, shipped_model_path  # noqa: E402


def main() -> int:
    book = load_codebook()
    model = fit(labelled_sentences(book), book.code_ids(), seed=0)
    path = shipped_model_path()
    path.write_bytes(model.to_bytes(with_rows=True))
    print(f"wrote {path} ({path.stat().st_size:,} bytes), model {model.content_hash}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
