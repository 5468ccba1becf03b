"""Statement delivery: a closed period's documents emailed to their customers, each once.

`credits deliver P` sends each customer one email for period P with the documents the
close wrote for them attached: their statement and their final invoices and credit notes
(`<reports>/<P>/statements`, `<reports>/<P>/invoices`; the attachments are those files,
named from our own layout, never from customer data). A document is sent once, ever:

- An email's Message-ID is a function of what it carries (the period, the customer and
  the ids of its documents), so every attempt at the same email has the same id.
- Before an email goes to the server, a `sending` line naming it and its documents is
  appended to the period's delivery journal, `<reports>/deliveries/<P>.jsonl`, and
  forced to disk (fsync); once the server has accepted it (its 250 reply to the message
  data), a `sent` line. A refusal by the server is a `failed` line.
- The documents of the `sent` lines are then recorded in `raw.deliveries`, one row per
  document, through the one write path (a copy of the warehouse, swapped in): at the end
  of the command, and by the next delivery for those of a command killed before that.
- A document is sent when neither `raw.deliveries` nor a `sent` line has it yet. The
  command holds the warehouse's writer lock throughout, so no two deliveries interleave.

Exactly once, and where it can only be at least once. A kill or a lost connection before
the `sending` line is on disk sends nothing. After it, until the server's reply, the email
may or may not have arrived: the next delivery sends it again, with the same Message-ID.
If the server had not taken it, that is its one delivery; if the server had taken it and
the kill fell between its 250 and the fsync of `sent` (a window of milliseconds), the
customer gets it twice, the same Message-ID on both, by which mail stores and clients can
tell the copy. No SMTP exchange closes that window (a server cannot be asked what it
accepted), so the rule is: never zero times, and more than once only when a crash or a
lost connection falls between the server's acceptance and our record of it; the summary
names the emails sent again.

The `Date` header is the command's clock (`--as-of`, else now): when the email is sent.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import smtplib
import ssl
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import format_datetime
from pathlib import Path

import duckdb

from credits_warehouse.ingest import DELIVERIES_DDL
from credits_warehouse.periods import period_bounds
from credits_warehouse.settings import SmtpSettings, is_plain_address
from credits_warehouse.statements import closed_documents
from credits_warehouse.warehouse import (
    closed_through,
    connect,
    exclusive_lock,
    require_warehouse,
    transactional_copy,
)

JOURNAL_FOLDER = "deliveries"
DOCUMENT_WORDS = {
    "statement": "credit statement",
    "invoice": "invoice",
    "credit_note": "credit note",
}


class DeliveryError(RuntimeError):
    """A delivery that cannot start or did not finish; the message is one line."""


@dataclass(frozen=True)
class Document:
    """One PDF of a closed period, with the customer it goes to."""

    document_id: str  # statement:<period>:<customer_id>, or <kind>:<invoice_id>
    kind: str  # statement, invoice or credit_note
    period: str
    customer_id: str
    customer_name: str | None
    customer_email: str | None
    path: Path
    attachment_name: str  # from our layout: statement-<period>.pdf, <invoice number>.pdf


@dataclass(frozen=True)
class Email:
    """The one email of a customer and period: its documents not sent yet."""

    message_id: str
    period: str
    customer_id: str
    customer_name: str
    recipient: str
    documents: tuple[Document, ...]


@dataclass
class DeliveryRun:
    period: str
    documents: int  # the period's documents
    already_sent: int = 0  # sent by earlier deliveries
    emails: int = 0  # to send by this one
    sent_emails: int = 0
    sent_documents: int = 0
    resent: list[str] = field(default_factory=list)  # customers whose email had no `sent` line
    failed: list[tuple[str, str]] = field(default_factory=list)  # (customer_id, server's reply)
    unaddressed: list[tuple[str, int, str]] = field(default_factory=list)  # (customer, docs, email)
    stopped: str | None = None  # why the batch stopped before its end
    recorded: int = 0  # documents recorded in raw.deliveries by this command

    @property
    def not_sent(self) -> int:
        return self.documents - self.already_sent - self.sent_documents

    def problem(self) -> str | None:
        """One line on what was not sent and why, or None when every document is sent."""
        if not self.not_sent:
            return None
        reasons = []
        if self.stopped:
            reasons.append(
                f"stopped after {self.sent_emails} of {self.emails} emails: {self.stopped}"
            )
        if self.failed:
            customer, reply = self.failed[0]
            reasons.append(
                f"the server refused {len(self.failed)} of {self.emails} emails, the first"
                f" to {customer}: {reply}"
            )
        if self.unaddressed:
            customer, _, email = self.unaddressed[0]
            more = len(self.unaddressed) - 1
            reasons.append(
                f"no usable email address for {customer} ({email!r})"
                + (f" and {more} more customers" if more else "")
            )
        return (
            f"{self.not_sent} of the {self.documents} documents of {self.period} not sent "
            f"({'; '.join(reasons)}); `credits deliver {self.period}` again sends exactly those"
        )


def deliver(
    warehouse: Path,
    reports: Path,
    period: str,
    smtp: SmtpSettings,
    clock: dt.datetime,
    progress: Callable[[int, int], None] | None = None,
) -> DeliveryRun:
    """Email the documents of closed period `period` that no delivery has sent yet, one
    email per customer, and record them in `raw.deliveries` (see the module's docstring)."""
    period_bounds(period)  # YYYY-MM, or a one-line refusal
    warehouse, reports = Path(warehouse), Path(reports)
    require_warehouse(warehouse, f"run and close {period} first")
    with exclusive_lock(warehouse):
        con = connect(warehouse, read_only=True)
        try:
            through = closed_through(con)
            if through is None or through < period:
                raise DeliveryError(
                    f"period {period} is not closed (closed through {through or 'no period'});"
                    f" `credits close {period}` first"
                )
            documents = period_documents(con, reports, period)
            recorded = recorded_documents(con, period)
        finally:
            con.close()
        run = DeliveryRun(period, len(documents))
        with Journal(journal_path(reports, period)) as journal:
            try:
                done = recorded | set(journal.sent_documents())
                to_send = [d for d in documents if d.document_id not in done]
                run.already_sent = len(documents) - len(to_send)
                if missing := [d.path for d in to_send if not d.path.is_file()]:
                    raise DeliveryError(
                        f"{len(missing)} of the {len(documents)} documents of {period} are"
                        f" missing, first {missing[0]}; nothing was sent"
                    )
                emails = emails_to_send(to_send, smtp, run)
                run.emails = len(emails)
                if emails:
                    _send(emails, smtp, clock, journal, run, progress)
            finally:
                # What the journal says was sent and the warehouse does not know yet: this
                # command's sends, and a killed one's.
                rows = [r for d, r in journal.sent_documents().items() if d not in recorded]
                if rows:
                    record_deliveries(warehouse, rows)
                    run.recorded = len(rows)
    return run


# --- which documents, to whom --------------------------------------------------------------

RECIPIENTS_SQL = """
select 'statement' as kind, customer_id as key, customer_id, customer_name, customer_email
from reporting.rpt_statements
where period = $period
union all
select 'invoice' as kind, invoice_id as key, customer_id, customer_name, customer_email
from reporting.rpt_invoices
where period = $period
"""


def period_documents(con: duckdb.DuckDBPyConnection, reports: Path, period: str) -> list[Document]:
    """The documents the close of `period` wrote, each with its customer as it shows them."""
    customers = {
        (kind, key): rest
        for kind, key, *rest in con.execute(RECIPIENTS_SQL, {"period": period}).fetchall()
    }
    documents = []
    for kind, key, path, _ in closed_documents(con, reports, period, period):
        if kind == "statement":
            customer_id, name, email = customers[("statement", key[0])]
            document_id, attachment = f"statement:{period}:{customer_id}", f"statement-{period}.pdf"
        else:
            customer_id, name, email = customers[("invoice", key)]
            document_id, attachment = f"{kind}:{key}", path.name
        documents.append(
            Document(document_id, kind, period, customer_id, name, email, path, attachment)
        )
    return documents


def recorded_documents(con: duckdb.DuckDBPyConnection, period: str) -> set[str]:
    """The documents of `period` that `raw.deliveries` records as sent."""
    try:
        rows = con.execute(
            "select document_id from raw.deliveries where period = ?", [period]
        ).fetchall()
    except duckdb.CatalogException:  # a warehouse from before deliveries were recorded
        return set()
    return {document_id for (document_id,) in rows}


def emails_to_send(documents: list[Document], smtp: SmtpSettings, run: DeliveryRun) -> list[Email]:
    """One email per customer with their documents, in customer order; a customer without
    a usable address gets none (listed in `run.unaddressed`)."""
    by_customer: dict[str, list[Document]] = {}
    for document in documents:
        by_customer.setdefault(document.customer_id, []).append(document)
    domain = smtp.sender_address.rsplit("@", 1)[1]
    emails = []
    for customer_id in sorted(by_customer):
        carried = tuple(by_customer[customer_id])
        recipient = (carried[0].customer_email or "").strip()
        if not is_plain_address(recipient):
            shown = _one_line(carried[0].customer_email or "", limit=80)
            run.unaddressed.append((customer_id, len(carried), shown))
            continue
        emails.append(
            Email(
                message_id=message_id(carried, domain),
                period=carried[0].period,
                customer_id=customer_id,
                customer_name=_one_line(carried[0].customer_name or ""),
                recipient=recipient,
                documents=carried,
            )
        )
    return emails


def message_id(documents: tuple[Document, ...], domain: str) -> str:
    """The Message-ID of the email carrying these documents: the same on every attempt."""
    first = documents[0]
    key = "\n".join([first.period, first.customer_id, *sorted(d.document_id for d in documents)])
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]
    return f"<credits.{first.period}.{digest}@{domain}>"


# --- the email -----------------------------------------------------------------------------


def compose(email: Email, sender: str, clock: dt.datetime) -> EmailMessage:
    """The email: From/To/Subject/Date/Message-ID, a plain-text body naming the customer
    and the period, and the PDFs attached under names from our own layout."""
    month = _month(email.period)
    message = EmailMessage(policy=SMTP_POLICY)
    message["From"] = sender
    message["To"] = Address(display_name=email.customer_name, addr_spec=email.recipient)
    message["Subject"] = f"Your {_kinds(email.documents)} for {month}"
    message["Date"] = format_datetime(clock.replace(tzinfo=dt.UTC))
    message["Message-ID"] = email.message_id
    listed = "\n".join(f"- {d.attachment_name}: {_describe(d, month)}" for d in email.documents)
    message.set_content(
        f"Dear {email.customer_name or 'customer'},\n\n"
        f"Please find attached your documents for {month} ({email.period}):\n\n"
        f"{listed}\n\n"
        "The amounts are those of the attached documents; please keep them for your records.\n"
    )
    for document in email.documents:
        message.add_attachment(
            document.path.read_bytes(),
            maintype="application",
            subtype="pdf",
            filename=document.attachment_name,
        )
    return message


def _kinds(documents: tuple[Document, ...]) -> str:
    """What an email carries, in words: `credit statement and invoices`."""
    counts: dict[str, int] = {}
    for document in documents:
        counts[document.kind] = counts.get(document.kind, 0) + 1
    words = [
        DOCUMENT_WORDS[kind] + ("s" if counts[kind] > 1 else "")
        for kind in DOCUMENT_WORDS
        if kind in counts
    ]
    return " and ".join([", ".join(words[:-1]), words[-1]] if len(words) > 1 else words)


def _describe(document: Document, month: str) -> str:
    if document.kind == "statement":
        return f"your credit statement for {month}"
    return f"{DOCUMENT_WORDS[document.kind]} {Path(document.attachment_name).stem}"


def _month(period: str) -> str:
    start, _ = period_bounds(period)
    return f"{start:%B %Y}"


def _one_line(text: str, limit: int = 200) -> str:
    """Customer text fit for a header and a greeting: control characters (a line break
    that would start a header of its own) become spaces, runs of spaces one."""
    cleaned = "".join(" " if unicodedata.category(c).startswith("C") else c for c in text)
    return " ".join(cleaned.split())[:limit]


# --- sending ---------------------------------------------------------------------------------


@contextlib.contextmanager
def smtp_session(smtp: SmtpSettings) -> Iterator[smtplib.SMTP]:
    """A connection to the server, upgraded to TLS and logged in as the settings say."""
    try:
        session = smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout_seconds)
    except (OSError, smtplib.SMTPException) as err:
        raise DeliveryError(
            f"cannot reach the SMTP server {smtp.host}:{smtp.port}: {_reason(err)}; nothing was sent"
        ) from None
    try:
        try:
            if smtp.starttls:
                session.starttls(context=ssl.create_default_context())
            if smtp.user is not None:
                session.login(smtp.user, smtp.password or "")
        except (OSError, smtplib.SMTPException) as err:
            raise DeliveryError(
                f"SMTP server {smtp.host}:{smtp.port} refused the session: {_reason(err)};"
                " nothing was sent"
            ) from None
        yield session
    finally:
        with contextlib.suppress(OSError, smtplib.SMTPException):
            session.quit()


def _send(
    emails: list[Email],
    smtp: SmtpSettings,
    clock: dt.datetime,
    journal: Journal,
    run: DeliveryRun,
    progress: Callable[[int, int], None] | None,
) -> None:
    """Send each email in turn: `sending` on disk, the SMTP exchange, then `sent` on disk."""
    with smtp_session(smtp) as session:
        for done, email in enumerate(emails, start=1):
            message = compose(email, smtp.sender, clock)
            if journal.in_flight(email.message_id):
                run.resent.append(email.customer_id)
            journal.sending(email, clock)
            try:
                session.send_message(
                    message, from_addr=smtp.sender_address, to_addrs=[email.recipient]
                )
            except smtplib.SMTPRecipientsRefused as err:
                # Refused before the data: this recipient gets nothing; the others may.
                reply = _reason(err)
                journal.failed(email, reply)
                run.failed.append((email.customer_id, reply))
                continue
            except smtplib.SMTPSenderRefused as err:
                # Every email has this sender: none would pass.
                journal.failed(email, _reason(err))
                run.stopped = f"the server refused the sender {smtp.sender_address}: {_reason(err)}"
                return
            except smtplib.SMTPResponseException as err:
                # The server answered no to this email (a 4xx or 5xx reply to its data): it
                # did not take it. The next email finds out whether the session still works.
                reply = _reason(err)
                journal.failed(email, reply)
                run.failed.append((email.customer_id, reply))
                continue
            except (smtplib.SMTPException, OSError) as err:
                # The connection went: whether the server took this email is unknown, so it
                # stays `sending` and the next delivery sends it again, same Message-ID.
                run.stopped = f"at {email.customer_id}, {_reason(err)}"
                return
            journal.sent(email)
            run.sent_emails += 1
            run.sent_documents += len(email.documents)
            if progress:
                progress(done, len(emails))


def _reason(err: BaseException) -> str:
    if isinstance(err, smtplib.SMTPRecipientsRefused):
        code, text = next(iter(err.recipients.values()))
        return _reason(smtplib.SMTPResponseException(code, text))
    if isinstance(err, smtplib.SMTPResponseException):
        text = err.smtp_error
        text = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
        return f"{err.smtp_code} {_one_line(text)}"
    return _one_line(str(err)) or type(err).__name__


# --- the journal ---------------------------------------------------------------------------


def journal_path(reports: Path, period: str) -> Path:
    return Path(reports) / JOURNAL_FOLDER / f"{period}.jsonl"


class Journal:
    """The period's delivery journal: one JSON line per event (`sending`, `sent`, `failed`),
    appended and forced to disk before the next step. Opened under the writer lock only, so
    one process appends at a time; a line torn by a kill mid-write is cut off on opening
    (its write never finished, so nothing was sent after it)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.emails: dict[str, dict] = {}  # message_id -> its `sending` line
        self.outcome: dict[str, str] = {}  # message_id -> `sent` or `failed`, when known
        self._fd: int | None = None

    def __enter__(self) -> Journal:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        created = not self.path.exists()
        self._fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        if created:
            _fsync_folder(self.path.parent)
        data = self.path.read_bytes()
        whole = data[: data.rfind(b"\n") + 1]
        if len(whole) < len(data):
            os.ftruncate(self._fd, len(whole))
            os.fsync(self._fd)
        for number, text in enumerate(whole.decode("utf-8").splitlines(), start=1):
            try:
                line = json.loads(text)
                event, mid = line["event"], line["message_id"]
            except (ValueError, TypeError, KeyError):
                raise DeliveryError(
                    f"{self.path}:{number}: not a delivery line: {text[:80]!r}"
                ) from None
            if event == "sending":
                self.emails[mid] = line
                self.outcome.pop(mid, None)
            else:
                if event == "sent":
                    self.emails[mid]["sent_at"] = line["at"]
                self.outcome[mid] = event
        return self

    def __exit__(self, *exc) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def in_flight(self, mid: str) -> bool:
        """Whether an earlier attempt at this email ended with no reply recorded."""
        return mid in self.emails and mid not in self.outcome

    def sent_documents(self) -> dict[str, tuple]:
        """raw.deliveries rows of the documents the journal has as sent, by document id."""
        rows = {}
        for mid, event in self.outcome.items():
            if event != "sent":
                continue
            line = self.emails[mid]
            for document in line["documents"]:
                rows[document["document_id"]] = (
                    document["document_id"], document["kind"], line["period"],
                    line["customer_id"], document["attachment_name"], mid, line["recipient"],
                    dt.datetime.fromisoformat(line["sent_at"]),
                )  # fmt: skip
        return rows

    def sending(self, email: Email, clock: dt.datetime) -> None:
        line = {
            "event": "sending",
            "message_id": email.message_id,
            "period": email.period,
            "customer_id": email.customer_id,
            "recipient": email.recipient,
            "date": clock.isoformat(),
            "documents": [
                {"document_id": d.document_id, "kind": d.kind, "attachment_name": d.attachment_name}
                for d in email.documents
            ],
        }
        self._append(line)
        self.emails[email.message_id] = line
        self.outcome.pop(email.message_id, None)

    def sent(self, email: Email) -> None:
        # When the server took it, by the wall clock (the clock of record for an event
        # outside the warehouse); kept on the `sending` line read back for raw.deliveries.
        at = dt.datetime.now(dt.UTC).replace(tzinfo=None).isoformat(timespec="microseconds")
        self._append({"event": "sent", "message_id": email.message_id, "at": at})
        self.emails[email.message_id]["sent_at"] = at
        self.outcome[email.message_id] = "sent"

    def failed(self, email: Email, reply: str) -> None:
        self._append({"event": "failed", "message_id": email.message_id, "reply": reply})
        self.outcome[email.message_id] = "failed"

    def _append(self, line: dict) -> None:
        data = (json.dumps(line, sort_keys=True) + "\n").encode("utf-8")
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view) :]
        os.fsync(self._fd)


def _fsync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# --- the record ----------------------------------------------------------------------------


def record_deliveries(warehouse: Path, rows: list[tuple]) -> None:
    """Add these documents to `raw.deliveries` (each once) through a copy of the warehouse
    swapped in; the caller holds the writer lock."""
    with transactional_copy(warehouse) as work:
        con = connect(work)
        try:
            con.execute("create schema if not exists raw")
            con.execute(DELIVERIES_DDL)
            con.execute("create temp table new_deliveries as select * from raw.deliveries limit 0")
            con.executemany("insert into new_deliveries values (?, ?, ?, ?, ?, ?, ?, ?)", rows)
            con.execute(
                """
                insert into raw.deliveries
                select * from new_deliveries
                where document_id not in (select document_id from raw.deliveries)
                """
            )
        finally:
            con.close()
