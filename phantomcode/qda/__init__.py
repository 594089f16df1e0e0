"""REFI-QDA exchange: codebooks as ``.qdc`` and projects as ``.qdpx`` (NVivo, ATLAS.ti, MAXQDA,
QualCoder and Taguette read them).

Written to the REFI-QDA 1.0 schemas (``Codebook-mrt2019.xsd``, ``Project-mrt2019.xsd``, release
of 18 March 2019): elements in schema order, required attributes present, GUIDs in the canonical
8-4-4-4-12 form, colours as ``#RRGGBB`` and times in UTC with ``Z``. GUIDs are stable: UUID5 of
what they stand for (a code's id, a document's id, a coding's key), so exporting twice gives the
same GUIDs and other tools can match re-imports.

The package: ``qdc`` (codebooks out and in, and what every file shares), ``qdpx`` (projects out).

- **Codebook** (``<CodeBook xmlns="urn:QDA-XML:codebook:1.0">``): every codebook group is a parent
  ``Code`` with ``isCodable="false"``; each code is a codable child named by its label, with a
  ``Description`` holding the definition, the include/exclude advice and a last line
  ``phantomcode id: ID``, which lets ``read_qdc`` restore ids exactly.
- **Project** (``project.qde`` in a zip with ``sources/GUID.txt``, the folder in lower case as
  MAXQDA, NVivo and QualCoder write it): users (phantomcode and each reviewer), the codebook, one
  ``Variable`` per attribute (type Text, values verbatim as the canonical values), one
  ``TextSource`` per document (``plainTextPath="internal://GUID.txt"``, the stored text as UTF-8
  without BOM, its ``VariableValue`` s), one ``PlainTextSelection`` per coded segment with a
  ``Coding`` + ``CodeRef`` per code, and review notes as ``Note`` s (dated; their text also in the
  selection's ``Description``, as QualCoder drops notes referenced from a coding). Selections and
  codings carry the reviewer who accepted them and when (phantomcode and the coding time for
  unreviewed ones). ``Case`` s (one per document, with its values and a ``SourceRef``) only on
  request: QualCoder takes every value in a case for a case attribute and then shows none on the
  documents. ``startPosition`` and ``endPosition`` are character offsets (Unicode code points)
  into the stored text; the end is exclusive, as QualCoder writes it. Only accepted codings are
  exported unless ``include_unreviewed`` adds every coding that counts and is not rejected.
"""

from .qdc import (
    CODEBOOK_NS,
    CODEBOOK_NS_READ,
    PHANTOMCODE_USER,
    PROJECT_NS,
    PROJECT_NS_READ,
    QdcCode,
    QdcCodebook,
    UniqueIds,
    code_colour,
    code_description,
    code_slug,
    codebook_to_qdc,
    export_qdc,
    normal_guid,
    qdc_to_yaml,
    read_codebook_element,
    read_qdc,
    stable_guid,
    write_bytes,
    yaml_comment,
    yaml_scalar,
)
from .qdpx import QdpxExport, export_qdpx, refi_time

__all__ = [
    "CODEBOOK_NS",
    "CODEBOOK_NS_READ",
    "PHANTOMCODE_USER",
    "PROJECT_NS",
    "PROJECT_NS_READ",
    "QdcCode",
    "QdcCodebook",
    "QdpxExport",
    "UniqueIds",
    "code_colour",
    "code_description",
    "code_slug",
    "codebook_to_qdc",
    "export_qdc",
    "export_qdpx",
    "normal_guid",
    "qdc_to_yaml",
    "read_codebook_element",
    "read_qdc",
    "refi_time",
    "stable_guid",
    "write_bytes",
    "yaml_comment",
    "yaml_scalar",
]
