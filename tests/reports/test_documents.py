"""Invoices, credit notes and the statement's newer parts: numbers formatted for the
customer's locale, the chart, safe paths, the sample contexts, byte-identical output from
any parse path or process, and the preview command.
"""

from __future__ import annotations

import copy
import dataclasses
import shutil
import time
import typing
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from unittest import mock
from xml.etree import ElementTree

import pytest
from pypdf import PdfReader

from credits_warehouse.documents import (
    DocumentRenderer,
    balance_chart_svg,
    invoice_path,
    load_sample_contexts,
    locale_for,
    sample_credit_note_context,
    sample_invoice_context,
    sample_statement_context,
    statement_path,
    write_documents,
    write_documents_parallel,
)
from credits_warehouse.documents import render as render_module
from credits_warehouse.documents.chart import nice_ticks
from credits_warehouse.documents.contexts import (
    InvoiceContext,
    RestatementContext,
    StatementContext,
)
from credits_warehouse.documents.preview import write_previews

HOSTILE_IMG = '<img src="file:///etc/passwd">'


@pytest.fixture(scope="module")
def renderer() -> DocumentRenderer:
    return DocumentRenderer()


def invoice_text(renderer: DocumentRenderer, context: dict, out: Path) -> str:
    renderer.render_invoice_pdf(context, out)
    return pdf_text(out)


def pdf_text(path: Path) -> str:
    text = "\n".join(page.extract_text() for page in PdfReader(path).pages)
    # babel separates amounts and currency signs with no-break spaces (narrow ones in fr).
    return text.replace("\u00a0", " ").replace("\u202f", " ")


def image_count(path: Path) -> int:
    count = 0
    for page in PdfReader(path).pages:
        for ref in ((page.get("/Resources") or {}).get("/XObject") or {}).values():
            count += ref.get_object().get("/Subtype") == "/Image"
    return count


# --------------------------------------------------------------------------- invoices


def test_invoice_shows_number_lines_and_totals_in_the_customers_locale(renderer, tmp_path):
    # A German customer (no explicit locale, so de_DE from country DE), in EUR at 19%:
    #   10,000 + 2 x 1,000 = 12,000 cents = 120,00 €; tax 12,000 x 0.19 = 2,280 = 22,80 €;
    #   total 142,80 €. The lines' own numbers are German too: 10.000 credits, not 10,000.
    context = sample_invoice_context()
    assert "locale" not in context
    text = invoice_text(renderer, context, tmp_path / "i.pdf")

    assert "Invoice" in text and "INV-2026-000001" in text
    assert "Beispiel Analytics GmbH" in text and "Nova AI Platform Ltd" in text
    assert "Credit bundle pack_10k (10.000 credits) 1 100,00 € 100,00 €" in text
    assert "Credit bundle pack_1k (1.000 credits) 2 10,00 € 20,00 €" in text
    assert "Subtotal 120,00 €" in text
    assert "Tax (19 %) 22,80 €" in text
    assert "Total (EUR) 142,80 €" in text
    assert "01.03.2026" in text and "15.03.2026" in text  # issue and due dates, de_DE
    assert "14 days net" in text
    assert "Page 1 of 1" in text
    assert "Credit note" not in text


def test_credit_note_is_titled_as_one(renderer, tmp_path):
    # A French customer: 45,00 € + 20% = 54,00 €.
    text = invoice_text(renderer, sample_credit_note_context(), tmp_path / "cn.pdf")
    assert "Credit note" in text and "CN-2026-000001" in text
    assert "Invoice" not in text
    assert "Total credited (EUR) 54,00 €" in text
    assert "Tax (20 %) 9,00 €" in text
    assert "18 mars 2026" in text
    assert "Due date" not in text


def test_explicit_locale_wins_over_the_country(renderer, tmp_path):
    context = sample_invoice_context()
    context["locale"] = "en_GB"
    text = invoice_text(renderer, context, tmp_path / "i.pdf")
    assert "Subtotal €120.00" in text
    assert "1 Mar 2026" in text
    assert "Credit bundle pack_10k (10,000 credits)" in text


def test_draft_invoice_is_marked(renderer, tmp_path):
    context = sample_invoice_context()
    context["invoice"].update(invoice_number=None, status="draft")
    text = invoice_text(renderer, context, tmp_path / "d.pdf")
    assert "DRAFT" in text
    assert "None" not in text


def test_invoice_data_is_text_not_markup(renderer, tmp_path):
    context = sample_invoice_context()
    context["customer"]["name"] = "<script>x()</script>"
    context["lines"][0]["description_template"] = HOSTILE_IMG
    html = renderer.render_invoice_html(context)
    assert "<script>" not in html and "<img" not in html

    out = tmp_path / "i.pdf"
    text = invoice_text(renderer, context, out)
    assert "<script>x()</script>" in text
    assert HOSTILE_IMG in text
    assert image_count(out) == 0


@pytest.mark.parametrize("sample", [sample_invoice_context, sample_credit_note_context])
def test_invoice_rerun_is_byte_identical(renderer, tmp_path, monkeypatch, sample):
    first = renderer.render_invoice_pdf(sample(), tmp_path / "a.pdf")
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() + 400 * 86400)
    second = DocumentRenderer().render_invoice_pdf(sample(), tmp_path / "b.pdf")
    assert first.read_bytes() == second.read_bytes()


def test_invoice_path_stays_inside(tmp_path):
    path = invoice_path(tmp_path, "2026-03", "../../x")
    assert path.resolve().is_relative_to(tmp_path.resolve())
    assert path.parent == tmp_path / "2026-03" / "invoices"
    assert invoice_path(tmp_path, "2026-03", "INV-2026-000001") == (
        tmp_path / "2026-03" / "invoices" / "INV-2026-000001.pdf"
    )
    assert invoice_path(tmp_path, "../..", "x").resolve().is_relative_to(tmp_path.resolve())


# --------------------------------------------------------------------------- locale


@pytest.mark.parametrize(
    ("country", "locale"),
    [
        ("GB", "en_GB"),
        ("DE", "de_DE"),
        ("FR", "fr_FR"),
        ("US", "en_US"),
        ("NL", "nl_NL"),
        ("de", "de_DE"),
        ("CH", "de_CH"),
        ("IN", "en_IN"),  # Hindi is not in Latin script: English for India
        ("JP", "en_GB"),  # nor Japanese, and CLDR has no en_JP
        ("EG", "en_GB"),  # Arabic digits would not match the English text
        ("XX", "en_GB"),
        ("", "en_GB"),
        (None, "en_GB"),
        ("../../x", "en_GB"),
    ],
)
def test_locale_for(country, locale):
    assert locale_for(country) == locale


def test_statement_numbers_follow_the_customers_country(renderer, tmp_path):
    context = sample_statement_context()
    context["customer"]["country"] = "DE"
    out = renderer.render_statement_pdf(context, tmp_path / "s.pdf")
    text = pdf_text(out)
    assert "Closing balance = 7.500" in text
    assert "01.03.2026" in text


# --------------------------------------------------------------------------- statement


def test_statement_shows_activity_expiring_credits_and_invoices(renderer, tmp_path):
    # From sample_context.yaml: a 2,000 top-up, 400 expired from the welcome promo,
    # 150 late usage, 600 expiring within 90 days, two invoices.
    out = renderer.render_statement_pdf(sample_statement_context(), tmp_path / "s.pdf")
    text = pdf_text(out)
    assert "of which top-ups 2,000" in text
    assert "including late usage 150" in text
    assert "net of voided usage 0" in text
    # Grants by their readable labels, never their generated ids.
    assert "Automatic top-up 24 Mar 2026 2,000" in text
    assert "Credit bundle pack_10k Purchase 1 Mar 2026 1 Mar 2027 10,000" in text
    assert "Promotional: welcome" in text and "15 Mar 2026 400" in text
    assert "auto_topup:cus_000001:1" not in text and "grt_promo_welcome" not in text
    assert "WITHIN 90 DAYS\n600 by 29 Jun 2026" in text
    assert "INV-2026-000001 Purchase 1 Mar 2026 US$120.00" in text
    assert "INV-2026-000014 Purchase 24 Mar 2026 US$24.00" in text


def test_statement_forecasts_depletion_only_when_there_is_a_forecast(renderer, tmp_path):
    # From sample_context.yaml: 7,500 credits at 180 a day last 41 days from 1 Apr.
    context = sample_statement_context()
    text = pdf_text(renderer.render_statement_pdf(context, tmp_path / "s.pdf"))
    assert "At your recent rate your credits last until 12 May 2026." in text
    context["projected_depletion_date"] = None  # no usage in the last 28 days, or no balance
    html = renderer.render_html("statement.html.j2", context)
    assert "At your recent rate" not in html


def test_statement_shows_top_users_and_coming_grants_in_the_customers_locale(renderer, tmp_path):
    # From sample_context.yaml: three users spent 2,600 + 1,900 + 800 = 5,300 credits, all
    # of the period's usage; a 1,000-credit promotion is scheduled for 15 Apr, after the
    # period, and is in no figure above (granted stays 12,000).
    text = pdf_text(renderer.render_statement_pdf(sample_statement_context(), tmp_path / "s.pdf"))
    assert (
        "TOP USERS BY CREDITS maria@acme.example 2,600 · tom@acme.example 1,900 · svc-batch 800"
    ) in text
    assert "COMING, IN NO BALANCE YET Promotional: spring offer 1,000 from 15 Apr 2026" in text
    assert "Granted + 12,000" in text
    context = sample_statement_context()
    context["customer"]["country"] = "DE"
    context["coming"][0]["credits"] = Decimal("1234.5")
    german = pdf_text(renderer.render_statement_pdf(context, tmp_path / "de.pdf"))
    assert "maria@acme.example 2.600" in german
    assert "Promotional: spring offer 1.234,5 from 15.04.2026" in german
    # Neither line is printed when there is nothing to list.
    context.update(top_users=[], coming=[])
    empty = pdf_text(renderer.render_statement_pdf(context, tmp_path / "none.pdf"))
    assert "TOP USERS" not in empty and "COMING" not in empty


def test_statement_has_a_vector_balance_chart(renderer, tmp_path):
    context = sample_statement_context()
    html = renderer.render_statement_html(context)
    assert html.count("<svg") == 1 and "<script" not in html

    with_chart = renderer.render_statement_pdf(context, tmp_path / "chart.pdf")
    context["daily_balances"] = []
    without = renderer.render_statement_pdf(context, tmp_path / "none.pdf")
    strokes = [
        PdfReader(path).pages[0].get_contents().get_data().count(b"\nS\n")
        for path in (with_chart, without)
    ]
    assert strokes[0] >= 8 > strokes[1] == 0  # grid, axis, ticks and the balance line
    assert "12,500" in pdf_text(with_chart) and "22 Mar" in pdf_text(with_chart)


def test_chart_is_exact_and_includes_zero():
    assert nice_ticks(Decimal(0), Decimal(11160)) == [Decimal(2500) * k for k in range(6)]
    assert nice_ticks(Decimal(-120), Decimal(380)) == [Decimal(100) * k for k in range(-2, 5)]
    assert nice_ticks(Decimal(5), Decimal(5)) == [Decimal(k) for k in range(6)]
    assert nice_ticks(Decimal(0), Decimal(0)) == [Decimal(0), Decimal("0.2")] + [
        Decimal("0.2") * k for k in range(2, 6)
    ]
    days = [
        {"balance_date": date(2026, 3, d), "closing_credits": Decimal(100 - 30 * d)}
        for d in (1, 2, 5)  # days 3 and 4 carry day 2's balance
    ]
    svg = balance_chart_svg(days, "en_GB")
    assert svg.count('class="tick y"') == len(nice_ticks(Decimal(-50), Decimal(70)))
    assert ">0</span>" in svg and ">-50</span>" in svg
    assert balance_chart_svg([], "en_GB") == ""
    with pytest.raises(TypeError):
        balance_chart_svg([{"balance_date": date(2026, 3, 1), "closing_credits": 1.5}], "en_GB")


def test_sixty_aggregators_fit_on_two_pages(renderer, tmp_path):
    # The benchmark's "typical" statement (bench/render.py) must stay two pages.
    context = sample_statement_context()
    context["usage"] = [
        {"aggregator_id": f"model_{i:02d}_tokens", "events": 40 * i, "units": Decimal(1000 * i),
         "credits": Decimal(i)}
        for i in range(60)
    ]  # fmt: skip
    out = renderer.render_statement_pdf(context, tmp_path / "s.pdf")
    assert len(PdfReader(out).pages) == 2


# --------------------------------------------------------------------------- determinism


def test_fast_and_fallback_parsers_give_identical_pdfs(renderer):
    # The XML fast path must build the tree WeasyPrint's HTML parser builds.
    for kind, context in load_sample_contexts().items():
        template = render_module.DOCUMENT_TEMPLATES[kind]
        fast = renderer.render_pdf_bytes(template, copy.deepcopy(context))
        with mock.patch.object(
            render_module.ElementTree, "fromstring", side_effect=ElementTree.ParseError("x")
        ):
            slow = renderer.render_pdf_bytes(template, copy.deepcopy(context))
        assert fast == slow, kind


def test_control_characters_in_data_are_dropped(renderer, tmp_path):
    context = sample_statement_context()
    context["customer"]["name"] = "Acme\x0bRobotics\x00 Ltd\ud800"
    html = renderer.render_statement_html(context)
    ElementTree.fromstring(html)  # the fast parse path takes it
    text = pdf_text(renderer.render_statement_pdf(context, tmp_path / "s.pdf"))
    assert "AcmeRobotics Ltd\ufffd" in text


def test_a_pdf_does_not_depend_on_what_was_rendered_before(tmp_path):
    fresh = DocumentRenderer().render_pdf_bytes("invoice.html.j2", sample_invoice_context())
    used = DocumentRenderer()
    used.render_pdf_bytes("statement.html.j2", sample_statement_context())
    used.render_pdf_bytes("invoice.html.j2", sample_credit_note_context())
    assert used.render_pdf_bytes("invoice.html.j2", sample_invoice_context()) == fresh


def _jobs(root: Path) -> list[tuple[str, dict, Path]]:
    jobs = []
    for i in range(6):
        statement = sample_statement_context()
        statement["customer"]["customer_id"] = f"cus_{i:03d}"
        jobs.append(("statement", statement, statement_path(root, "2026-03", f"cus_{i:03d}")))
    invoice, note = sample_invoice_context(), sample_credit_note_context()
    jobs.append(("invoice", invoice, invoice_path(root, "2026-03", "INV-2026-000001")))
    jobs.append(("credit_note", note, invoice_path(root, "2026-03", "CN-2026-000001")))
    return jobs


def test_parallel_output_equals_serial_output(tmp_path, monkeypatch):
    serial_jobs, parallel_jobs = _jobs(tmp_path / "serial"), _jobs(tmp_path / "parallel")
    workers_tmp = tmp_path / "workers-tmp"  # the workers' temporary folder (they are spawned)
    workers_tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(workers_tmp))
    serial = write_documents(serial_jobs)
    seen = []
    parallel = write_documents_parallel(
        parallel_jobs, workers=2, progress=lambda done, total: seen.append((done, total))
    )
    assert [p.relative_to(tmp_path / "parallel") for p in parallel] == [
        p.relative_to(tmp_path / "serial") for p in serial
    ]
    for a, b in zip(serial, parallel, strict=True):
        assert a.read_bytes() == b.read_bytes(), b.name
    assert seen[-1] == (8, 8) and [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert not list((tmp_path / "parallel").rglob("*.tmp-*"))
    # Each worker removed WeasyPrint's font folder as it ended.
    assert list(workers_tmp.iterdir()) == []


def test_parallel_errors_surface_and_unknown_kinds_are_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown document kind"):
        write_documents_parallel([("receipt", {}, tmp_path / "x.pdf")])
    jobs = _jobs(tmp_path)
    del jobs[3][1]["usage"]
    with pytest.raises(Exception, match="usage"):
        write_documents_parallel(jobs, workers=2)


# --------------------------------------------------------------------------- samples


def test_sample_contexts_are_exact():
    contexts = load_sample_contexts()
    assert set(contexts) == {"statement", "invoice", "credit_note", "restatements"}

    def walk(value):
        assert not isinstance(value, float), value
        if isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(contexts)
    statement = contexts["statement"]
    assert statement["closing_balance"] == Decimal(7500)
    assert isinstance(statement["closing_balance"], Decimal)
    assert statement["period_start"] == date(2026, 3, 1)
    assert statement["grants"][0]["effective_at"] == datetime(2026, 3, 1, 9, 30)
    assert statement["expiring"] == {"30": 0, "60": 0, "90": Decimal(600)}
    assert statement["daily_balances"][-1]["closing_credits"] == statement["closing_balance"]
    # The balance identity holds in the sample.
    assert (
        statement["opening_balance"] + statement["granted"] - statement["consumed"]
        - statement["expired"] - statement["refunded"] + statement["settled"]
        == statement["closing_balance"]
    )  # fmt: skip
    invoice = contexts["invoice"]["invoice"]
    assert invoice["tax_rate"] == Decimal("0.19") and isinstance(invoice["subtotal"], int)
    assert invoice["subtotal"] + invoice["tax"] == invoice["total"]
    assert sum(line["amount"] for line in contexts["invoice"]["lines"]) == invoice["subtotal"]
    restated = contexts["restatements"]
    assert restated["totals"]["usage_credits_delta"] == Decimal("3057.5")
    assert sum(line["usage_credits_delta"] for line in restated["lines"]) == Decimal("3057.5")
    # Each money total is the sum of the customers' figures that moved (none is omitted).
    for total in restated["money_totals"]:
        lines = [m for m in restated["money_lines"] if m["label"] == total["label"]]
        assert sum(m["delta"] for m in lines) == total["delta"], total["label"]
    # Each call is a fresh copy.
    sample_statement_context()["usage"].clear()
    assert sample_statement_context()["usage"]


def _fields(cls) -> dict[str, object]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def _same_shape(cls, value, where: str) -> None:
    """`value` (a sample mapping) has exactly the fields of dataclass `cls`, recursively."""
    assert isinstance(value, dict), where
    fields = _fields(cls)
    assert set(value) - {"locale"} == set(fields), where
    for name, hint in fields.items():
        inner = [a for a in typing.get_args(hint) if dataclasses.is_dataclass(a)]
        if dataclasses.is_dataclass(hint):
            _same_shape(hint, value[name], f"{where}.{name}")
        elif inner:  # tuple[Line, ...]
            for i, item in enumerate(value[name]):
                _same_shape(inner[0], item, f"{where}.{name}[{i}]")


@pytest.mark.parametrize(
    ("kind", "cls"),
    [
        ("statement", StatementContext),
        ("invoice", InvoiceContext),
        ("credit_note", InvoiceContext),
        ("restatements", RestatementContext),
    ],
)
def test_samples_have_the_shape_of_the_typed_contexts(kind, cls):
    """The samples the tests and `make preview` render are shaped exactly like the contexts
    the close reads from the reporting models: a field added on one side fails here."""
    _same_shape(cls, load_sample_contexts()[kind], kind)


def test_preview_writes_every_sample(tmp_path):
    written = write_previews(tmp_path)
    names = {path.name for path in written}
    assert {"statement.pdf", "invoice.pdf", "credit_note.pdf"} <= names
    if shutil.which("pdftoppm"):
        assert {"statement-1.png", "invoice-1.png", "credit_note-1.png"} <= names
