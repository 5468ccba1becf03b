"""Render every sample context to `reports/preview/`, so a person can look at the documents
without a warehouse: `make preview`.

Writes one PDF per context in `reports/sample_context.yaml` and, when poppler's `pdftoppm`
is on PATH, PNG pages at 80 dpi next to them (`<kind>-1.png`, `<kind>-2.png`, ...).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
from pathlib import Path

from credits_warehouse.documents.render import DOCUMENT_TEMPLATES, REPORTS_ROOT, DocumentRenderer
from credits_warehouse.documents.samples import SAMPLE_CONTEXT_PATH, load_sample_contexts

PREVIEW_DIR = REPORTS_ROOT / "preview"


def write_previews(
    out_dir: Path = PREVIEW_DIR, samples: Path = SAMPLE_CONTEXT_PATH, dpi: int = 80
) -> list[Path]:
    """Write each sample's PDF (and PNG pages if pdftoppm exists); return the files written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    renderer = DocumentRenderer()
    pdftoppm = shutil.which("pdftoppm")
    written = []
    for kind, context in load_sample_contexts(samples).items():
        if kind not in DOCUMENT_TEMPLATES:
            raise SystemExit(f"{samples}: unknown document kind {kind!r}")
        pdf = renderer.render_document(kind, context, out_dir / f"{kind}.pdf")
        written.append(pdf)
        if pdftoppm:
            for old in out_dir.glob(f"{kind}-*.png"):
                old.unlink()
            prefix = out_dir / kind
            subprocess.run([pdftoppm, "-png", "-r", str(dpi), pdf, prefix], check=True)
            written.extend(sorted(out_dir.glob(f"{kind}-*.png")))
    return written


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=PREVIEW_DIR)
    parser.add_argument("--samples", type=Path, default=SAMPLE_CONTEXT_PATH)
    parser.add_argument("--dpi", type=int, default=80)
    args = parser.parse_args(argv)
    written = write_previews(args.out, args.samples, args.dpi)
    for path in written:
        print(path)
    if not any(path.suffix == ".png" for path in written):
        print("pdftoppm not found: PDFs only (install poppler-utils for PNG pages)")


if __name__ == "__main__":
    main()
