"""The statement renderer: right numbers, customer data as text, nothing embedded from
outside `reports/static`, byte-identical reruns, safe paths, and long tables that paginate.
"""

from __future__ import annotations

import base64
import copy
import os
import subprocess
import sys
import time
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import jinja2
import pytest
from pypdf import PdfReader
from weasyprint import HTML

from credits_warehouse.atomic_files import remove_orphaned_temp_files, remove_stale_temp_files
from credits_warehouse.documents import (
    REPORTS_ROOT,
    DocumentRenderer,
    SafeURLFetcher,
    UnsafeURLError,
    format_credits,
    format_long_date,
    format_money,
    make_environment,
    safe_filename,
    safe_url_fetcher,
    sample_statement_context,
    statement_path,
)
from credits_warehouse.statements import remove_documents_not_written

HOSTILE_IMG = '<img src="file:///etc/passwd">'

# A 1x1 red PNG, to prove the image detector below can see an image at all.
PNG_1X1 = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC"
)


@pytest.fixture(scope="module")
def renderer() -> DocumentRenderer:
    return DocumentRenderer()


def render(renderer: DocumentRenderer, context: dict, out: Path) -> PdfReader:
    renderer.render_statement_pdf(context, out)
    return PdfReader(out)


def pdf_text(reader: PdfReader) -> str:
    return "\n".join(page.extract_text() for page in reader.pages)


def image_xobjects(reader: PdfReader) -> list:
    """Every /Image XObject in the PDF, including those nested in form XObjects."""
    found = []

    def walk(resources) -> None:
        xobjects = (resources or {}).get("/XObject") or {}
        for ref in xobjects.values():
            xobject = ref.get_object()
            if xobject.get("/Subtype") == "/Image":
                found.append(xobject)
            elif xobject.get("/Subtype") == "/Form":
                walk(xobject.get("/Resources"))

    for page in reader.pages:
        walk(page.get("/Resources"))
    return found


def usage_rows(count: int) -> list[dict]:
    return [
        {
            "aggregator_id": f"agg_{i:03d}",
            "events": i + 1,
            "units": Decimal(1000 * (i + 1)),
            "credits": Decimal(i + 1),
        }
        for i in range(count)
    ]


# --------------------------------------------------------------------------- content


def test_sample_statement_shows_the_balance_identity(renderer, tmp_path):
    # reports/sample_context.yaml works the month out:
    #   2,000,000 / 1000 * 1 + 450,000 / 1000 * 4 + 100,000 / 1000 * 15
    #   = 2,000 + 1,800 + 1,500 = 5,300 consumed;
    #   1,200 + 12,000 - 5,300 - 400 = 7,500 closing.
    context = sample_statement_context()
    text = pdf_text(render(renderer, context, tmp_path / "s.pdf"))

    assert "Acme Robotics Ltd" in text
    for figure in ["1,200", "12,000", "5,300", "400", "7,500"]:
        assert figure in text
    for aggregator, units, credits in [
        ("nova_fast_tokens", "2,000,000", "2,000"),
        ("nova_pro_tokens", "450,000", "1,800"),
        ("nova_ultra_tokens", "100,000", "1,500"),
    ]:
        assert f"{aggregator} " in text
        assert f" {units} {credits}" in text
    # period_end is exclusive: the statement shows the last day of March.
    assert "1 Mar 2026 – 31 Mar 2026" in text
    assert "Page 1 of 1" in text


def test_empty_sections_render(renderer, tmp_path):
    context = sample_statement_context()
    context.update(usage=[], grants=[], topups=[], expirations=[], invoices=[], daily_balances=[])
    text = pdf_text(render(renderer, context, tmp_path / "s.pdf"))
    assert "No usage in this period." in text
    assert "No grants in this period." in text
    assert "No top-ups in this period." in text
    assert "No credits expired in this period." in text
    assert "No invoices in this period." in text
    assert "No balance history for this period." in text


def test_missing_context_key_fails_loudly(renderer):
    context = sample_statement_context()
    del context["closing_balance"]
    with pytest.raises(jinja2.UndefinedError):
        renderer.render_statement_html(context)


# --------------------------------------------------------------------------- escaping


def test_customer_name_is_text_not_markup(renderer, tmp_path):
    context = sample_statement_context()
    context["customer"]["name"] = "<script>x()</script>"

    html = renderer.render_statement_html(context)
    assert "<script>" not in html
    assert "&lt;script&gt;x()&lt;/script&gt;" in html

    text = pdf_text(render(renderer, context, tmp_path / "s.pdf"))
    assert "<script>x()</script>" in text


def test_hostile_markup_embeds_nothing(renderer, tmp_path):
    context = sample_statement_context()
    context["customer"]["address"] = HOSTILE_IMG
    context["grants"][0]["kind"] = HOSTILE_IMG

    reader = render(renderer, context, tmp_path / "s.pdf")
    assert HOSTILE_IMG in pdf_text(reader)
    assert image_xobjects(reader) == []


def test_image_detector_sees_images(renderer, tmp_path):
    # Guards the check above against passing vacuously: data: URIs are allowed.
    uri = "data:image/png;base64," + base64.b64encode(PNG_1X1).decode()
    pdf = HTML(string=f'<img src="{uri}">', url_fetcher=renderer.url_fetcher).write_pdf()
    (tmp_path / "img.pdf").write_bytes(pdf)
    assert len(image_xobjects(PdfReader(tmp_path / "img.pdf"))) == 1


def test_fetcher_keeps_images_outside_static_out_of_the_pdf(renderer, tmp_path):
    # Even markup that reaches WeasyPrint unescaped cannot pull in a local file.
    outside = tmp_path / "secret.png"
    outside.write_bytes(PNG_1X1)
    pdf = HTML(
        string=f'<p>x</p><img src="{outside.as_uri()}">',
        base_url=renderer.base_url,
        url_fetcher=renderer.url_fetcher,
    ).write_pdf()
    (tmp_path / "out.pdf").write_bytes(pdf)
    assert image_xobjects(PdfReader(tmp_path / "out.pdf")) == []


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "FILE:///etc/passwd",
        "file://localhost/etc/passwd",
        "file://evil.example/share/x.png",
        (REPORTS_ROOT / "static").as_uri() + "/../../pyproject.toml",
        (REPORTS_ROOT / "static").as_uri() + "/css/missing.css",
        "http://example.com/x.png",
        "https://example.com/x.png",
        "ftp://example.com/x.png",
        "javascript:alert(1)",
    ],
)
def test_fetcher_refuses(url):
    with pytest.raises(UnsafeURLError):
        safe_url_fetcher(url)
    assert issubclass(UnsafeURLError, ValueError)


def test_fetcher_serves_static_files_and_data_uris():
    css = REPORTS_ROOT / "static" / "css" / "base.css"
    response = safe_url_fetcher(css.as_uri())
    try:
        assert response.content_type == "text/css"
        assert response.read() == css.read_bytes()
    finally:
        response.close()

    response = safe_url_fetcher("data:text/plain;base64,aGk=")
    try:
        assert response.read() == b"hi"
    finally:
        response.close()


def test_fetcher_resolves_symlinks_before_checking(tmp_path):
    static = tmp_path / "static"
    static.mkdir()
    (static / "ok.css").write_text("p {}")
    (tmp_path / "secret.txt").write_text("secret")
    (static / "link.txt").symlink_to(tmp_path / "secret.txt")
    fetcher = SafeURLFetcher(static_root=static)

    fetcher((static / "ok.css").as_uri()).close()
    with pytest.raises(UnsafeURLError):
        fetcher((static / "link.txt").as_uri())


# --------------------------------------------------------------------------- determinism


def test_same_context_gives_identical_bytes(renderer, tmp_path, monkeypatch):
    context = sample_statement_context()
    first = renderer.render_statement_pdf(copy.deepcopy(context), tmp_path / "a.pdf")

    # Move the wall clock 400 days on: nothing in the PDF may depend on it.
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() + 400 * 86400)
    second = renderer.render_statement_pdf(copy.deepcopy(context), tmp_path / "b.pdf")

    assert first.read_bytes() == second.read_bytes()
    metadata = PdfReader(first).metadata
    assert metadata["/CreationDate"] == "D:20260401000000Z"
    assert metadata["/ModDate"] == "D:20260401000000Z"


def test_identical_bytes_across_processes(renderer, tmp_path):
    # Another interpreter with another hash seed must produce the same file.
    ours = renderer.render_statement_pdf(sample_statement_context(), tmp_path / "ours.pdf")
    theirs = tmp_path / "theirs.pdf"
    script = (
        "import sys; from pathlib import Path;"
        "from credits_warehouse.documents import DocumentRenderer, sample_statement_context;"
        "DocumentRenderer().render_statement_pdf(sample_statement_context(), Path(sys.argv[1]))"
    )
    env = {
        **os.environ,
        "PYTHONHASHSEED": "12345",
        "PYTHONPATH": os.pathsep.join([str(REPORTS_ROOT.parent), *sys.path]),
    }
    subprocess.run([sys.executable, "-c", script, str(theirs)], check=True, env=env)
    assert ours.read_bytes() == theirs.read_bytes()


# --------------------------------------------------------------------------- files


@pytest.mark.parametrize(
    "name",
    ["../../x", "..", ".", "", "/etc/passwd", "a/b\\c", ".hidden", "é ü", "\x00", "x" * 500],
)
def test_safe_filename(name):
    cleaned = safe_filename(name)
    assert cleaned
    assert len(cleaned) <= 120
    assert not cleaned.startswith(".")
    assert all(ch.isascii() and (ch.isalnum() or ch in "._-") for ch in cleaned)


def test_names_that_differ_never_share_a_file():
    names = ["a/b", "a_b", "a\\b", "a b", "../a_b", ".a_b", "x" * 500, "x" * 501]
    assert len({safe_filename(n) for n in names}) == len(names)
    assert safe_filename("a_b") == "a_b"


def test_safe_filename_keeps_safe_names():
    assert safe_filename("cus_000001") == "cus_000001"
    assert safe_filename("INV-2026-000001") == "INV-2026-000001"


def test_statement_path_stays_inside_reports_dir(tmp_path):
    path = statement_path(tmp_path, "2026-03", "../../x")
    assert path.resolve().is_relative_to(tmp_path.resolve())
    assert path.parent == tmp_path / "2026-03" / "statements"
    assert "/" not in path.name and not path.name.startswith(".")
    assert statement_path(tmp_path, "2026-03", "cus_1") == (
        tmp_path / "2026-03" / "statements" / "cus_1.pdf"
    )


def test_pdf_is_written_atomically(renderer, tmp_path):
    out = statement_path(tmp_path / "reports", "2026-03", "cus_000001")
    assert renderer.render_statement_pdf(sample_statement_context(), out) == out
    assert out.read_bytes().startswith(b"%PDF-")
    assert [p.name for p in out.parent.iterdir()] == ["cus_000001.pdf"]

    broken = sample_statement_context()
    del broken["usage"]
    failed = out.with_name("broken.pdf")
    with pytest.raises(jinja2.UndefinedError):
        renderer.render_statement_pdf(broken, failed)
    assert [p.name for p in out.parent.iterdir()] == ["cus_000001.pdf"]


def test_a_killed_writers_temp_files_are_swept_and_final_files_kept(tmp_path):
    # What SIGKILL between writing and renaming leaves (write_atomically's, the outbox's),
    # beside final files, one of them a customer id that looks like a temp name.
    left = ["cus_1.pdf.tmp-4242-139872", "outbox.jsonl.tmp-4242"]
    final = ["cus_2.pdf", "cus.tmp-1.pdf", "notes.tmp-x"]
    for name in left + final:
        (tmp_path / name).write_bytes(b"%PDF-1.7 cut short")
    assert remove_stale_temp_files(tmp_path) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(final)
    assert remove_stale_temp_files(tmp_path / "missing") == 0


def test_an_export_sweeps_only_its_own_temp_files_whose_process_has_gone(tmp_path):
    # Without the writer lock: a live writer's file (this process's) stays, and so does
    # another file's; the one a finished process left goes.
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],  # noqa: S603
                          capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    target = tmp_path / "journals-2026-02.csv"
    dead = f"journals-2026-02.csv.tmp-{gone}-1"
    kept = [f"journals-2026-02.csv.tmp-{os.getpid()}-1", f"other.csv.tmp-{gone}-1", "x.csv"]
    for name in [dead, *kept]:
        (tmp_path / name).write_bytes(b"Date,Jour")
    assert remove_orphaned_temp_files(target) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(kept)
    assert remove_orphaned_temp_files(tmp_path / "missing" / "j.csv") == 0


def test_documents_not_written_by_a_closing_run_are_removed_from_its_periods(tmp_path):
    # Final through 2026-01: its folders are untouched. 2026-02 (this run's close) keeps
    # what the run writes; 2026-03 (a longer close, killed) keeps nothing. Files beside the
    # document folders (an export, the outbox) are not documents.
    files = {
        "2026-01/statements/cus_1.pdf": True,
        "2026-01/invoices/INV-2026-000001.pdf": True,
        "2026-02/statements/cus_1.pdf": True,
        "2026-02/invoices/INV-2026-000002.pdf": True,
        "2026-02/invoices/INV-2026-000003.pdf": False,
        "2026-02/invoices/INV-2026-000002.pdf.tmp-4194304-1": False,
        "2026-02/journals-2026-02.csv": True,
        "2026-03/statements/cus_1.pdf": False,
        "alerts/outbox.jsonl": True,
    }
    for name in files:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    written = {
        tmp_path / "2026-02/statements/cus_1.pdf",
        tmp_path / "2026-02/invoices/INV-2026-000002.pdf",
    }
    assert remove_documents_not_written(tmp_path, "2026-01", written) == 3
    left = {str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file()}
    assert left == {name for name, keep in files.items() if keep}


# --------------------------------------------------------------------------- pagination


def test_long_usage_table_paginates_with_repeated_header(renderer, tmp_path):
    context = sample_statement_context()
    context["usage"] = usage_rows(100)
    reader = render(renderer, context, tmp_path / "long.pdf")
    pages = [page.extract_text() for page in reader.pages]

    assert len(pages) >= 2
    usage_pages = [text for text in pages if "agg_0" in text]
    assert len(usage_pages) >= 2
    for text in usage_pages:
        assert "AGGREGATOR EVENTS UNITS CREDITS" in text
    assert "agg_000" in pages[0] and "agg_099" not in pages[0]
    # 1 + 2 + ... + 100 = 5,050 events and credits, totalled once, not on every page.
    assert "\n".join(pages).count("Total 5,050 5,050") == 1
    for number, text in enumerate(pages, start=1):
        assert f"Page {number} of {len(pages)}" in text


# --------------------------------------------------------------------------- filters


def test_money_uses_currency_digits():
    assert format_money(123456, "USD") == "US$1,234.56"
    assert format_money(123456, "JPY") == "JP¥123,456"
    assert "1.234" in format_money(1234, "KWD")
    assert format_money(-500, "EUR", locale="fr_FR") == "-5,00\u00a0€"
    with pytest.raises(TypeError):
        format_money(12.34, "USD")
    with pytest.raises(ValueError):
        format_money(Decimal("12.5"), "USD")


def test_credits_format():
    assert format_credits(Decimal("4700.000000000000")) == "4,700"
    assert format_credits(Decimal("1.5")) == "1.5"
    assert format_credits(Decimal("-250.1234567")) == "-250.123457"
    assert format_credits(Decimal("-0.0000001")) == "0"
    assert format_credits(Decimal("1234567.25"), locale="de_DE") == "1.234.567,25"
    assert format_credits(3) == "3"
    with pytest.raises(TypeError):
        format_credits(1.5)


def test_date_format():
    assert format_long_date(date(2026, 3, 31)) == "31 Mar 2026"
    assert format_long_date(datetime(2026, 3, 31, 23, 59)) == "31 Mar 2026"
    assert format_long_date("2026-04-01T00:00:00") == "1 Apr 2026"


def test_environment_is_strict_and_escapes():
    env = make_environment()
    assert env.autoescape is True
    assert env.undefined is jinja2.StrictUndefined
    template = env.from_string("{{ x|credits }} {{ y }}")
    assert template.render(x=Decimal("1000"), y="<b>", locale="en_GB") == "1,000 &lt;b&gt;"
    with pytest.raises(jinja2.UndefinedError):
        env.from_string("{{ missing }}").render()
