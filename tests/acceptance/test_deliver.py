"""`credits deliver P` against a real SMTP server (aiosmtpd on localhost, started here):
each document of a closed period reaches its customer once, across failures and kills.

One module-scoped close (the only costly step); each test delivers from its own copy of
the closed warehouse and reports. The data, by hand (shipped catalog: pro is $100 a
month; pack_10k is $100):
- cus_a "Alpha & Co", cus_b "Beta <Ltd>", cus_c "Gamma", created and subscribed to pro
  on 2026-03-01, each with an email address; cus_c buys pack_10k on 03-05, refunded 03-20.
- Closing 2026-03 (clock 2026-04-01) numbers in issued_at order: INV-2026-000001..3 are
  the March fees in advance, dated 2026-03-01, the end of period 2026-02; INV-2026-000004
  is cus_c's pack (03-05); INV-2026-000005..7 close March for cus_a, cus_b, cus_c
  (04-01); CN-2026-000001 is cus_c's refund (03-20).
- So 2026-03 has 3 customers x (1 statement + 1 subscription invoice) = 6 documents, plus
  cus_c's pack invoice and its credit note = 8 documents, in 3 emails (2 + 2 + 4); and
  2026-02 has the 3 fee invoices and no statement (nobody was a customer in February).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from collections import Counter
from email import message_from_bytes
from email.policy import default as default_policy
from pathlib import Path

import duckdb
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from helpers import CATALOG_PATH, write_landing

from dagster_project.cli import main

# A whole command end to end, each run a whole build: `make test-commands` (CI runs it).
pytestmark = pytest.mark.commands

REPO_ROOT = Path(__file__).resolve().parents[2]
SENDER = "Nova Billing <billing@nova.example>"
MARCH = {
    # recipient: the attachments of its one email
    "a@example.com": ["statement-2026-03.pdf", "INV-2026-000005.pdf"],
    "b@example.com": ["statement-2026-03.pdf", "INV-2026-000006.pdf"],
    "c@example.com": [
        "statement-2026-03.pdf", "INV-2026-000004.pdf", "INV-2026-000007.pdf",
        "CN-2026-000001.pdf",
    ],
}  # fmt: skip
MARCH_DOCUMENTS = Counter({(to, name): 1 for to, names in MARCH.items() for name in names})


@pytest.fixture(scope="module")
def closed(tmp_path_factory):
    root = tmp_path_factory.mktemp("deliver")
    customers = [
        {"customer_id": f"cus_{key}", "name": name, "email": f"{key}@example.com",
         "currency": "USD", "country": "US", "tax_rate": "0", "created_at": "2026-03-01T00:00:00Z"}
        for key, name in (("a", "Alpha & Co"), ("b", "Beta <Ltd>"), ("c", "Gamma"))
    ]  # fmt: skip
    write_landing(
        root / "landing",
        customers=customers,
        subscriptions=[
            {
                "customer_id": c["customer_id"],
                "plan_id": "pro",
                "started_at": "2026-03-01T00:00:00Z",
            }
            for c in customers
        ],
        purchases=[
            {
                "purchase_id": "p_c",
                "customer_id": "cus_c",
                "bundle_id": "pack_10k",
                "quantity": 1,
                "purchased_at": "2026-03-05T00:00:00Z",
                "amount_paid": 10000,
                "currency": "USD",
                "status": "refunded",
            },
        ],
        refunds=[{"refund_id": "r_c", "purchase_id": "p_c", "refunded_at": "2026-03-20T00:00:00Z"}],
        events_jsonl=[
            {
                "event_id": f"e_{c['customer_id']}",
                "customer_id": c["customer_id"],
                "event_type": "llm_token_usage",
                "timestamp": "2026-03-10T00:00:00Z",
                "properties": {"model": "nova-fast", "tokens": 1_000_000},
            }
            for c in customers
        ],
    )
    flags = [
        "--landing", str(root / "landing"), "--catalog", str(CATALOG_PATH),
        "--warehouse", str(root / "warehouse.duckdb"), "--reports", str(root / "reports"),
        "--as-of", "2026-04-01T00:00:00",
    ]  # fmt: skip
    assert main(["close", "2026-03", *flags]) == 0
    return root


@pytest.fixture
def workspace(closed, tmp_path):
    """A copy of the closed warehouse and its reports, and the flags that deliver from it."""
    shutil.copy2(closed / "warehouse.duckdb", tmp_path / "warehouse.duckdb")
    shutil.copytree(closed / "reports", tmp_path / "reports")
    flags = [
        "--warehouse", str(tmp_path / "warehouse.duckdb"), "--reports", str(tmp_path / "reports"),
        "--as-of", "2026-04-02T09:00:00",
    ]  # fmt: skip
    return tmp_path, flags


class Mailbox:
    """An SMTP server's handler that keeps every message it accepts. With `accept` set, it
    takes that many messages in all, then answers each next one with `451` (`refuse`) or
    hangs up before answering (`hang_up`)."""

    def __init__(self) -> None:
        self.accepted: list[tuple[list[str], object]] = []
        self.accept: int | None = None
        self.after = "refuse"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        if self.accept is not None and len(self.accepted) >= self.accept:
            if self.after == "hang_up":
                server.transport.close()
            return "451 4.3.0 mailbox busy, try again later"
        message = message_from_bytes(envelope.original_content, policy=default_policy)
        self.accepted.append((list(envelope.rcpt_tos), message))
        return "250 2.0.0 OK"

    def documents(self) -> Counter:
        """How often each (recipient, attachment) reached the server."""
        return Counter(
            (to, part.get_filename())
            for rcpts, message in self.accepted
            for to in rcpts
            for part in message.iter_attachments()
        )


def _serve(box: Mailbox, monkeypatch, **options) -> Controller:
    """Start an SMTP server on localhost for `box` and point CREDITS_SMTP_* at it."""
    with socket.socket() as probe:  # a free port (aiosmtpd 1.4 cannot take port 0)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(box, hostname="127.0.0.1", port=port, **options)
    controller.start()
    for name, value in {
        "CREDITS_SMTP_HOST": "127.0.0.1", "CREDITS_SMTP_PORT": str(port),
        "CREDITS_SMTP_FROM": SENDER, "CREDITS_SMTP_STARTTLS": "false",
    }.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    for name in ("CREDITS_SMTP_USER", "CREDITS_SMTP_PASSWORD", "CREDITS_SMTP_TIMEOUT"):
        monkeypatch.delenv(name, raising=False)
    return controller


@pytest.fixture
def mailbox(monkeypatch):
    box = Mailbox()
    controller = _serve(box, monkeypatch)
    yield box
    controller.stop()


def _deliveries(warehouse: Path) -> list[tuple]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(
            "select document_id, document_kind, attachment_name, recipient, message_id"
            " from raw.deliveries order by document_id"
        ).fetchall()
    finally:
        con.close()


def _journal(root: Path, period: str = "2026-03") -> list[dict]:
    path = root / "reports" / "deliveries" / f"{period}.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_each_document_is_sent_once_with_its_customer_and_period(workspace, mailbox, capsys):
    root, flags = workspace
    assert main(["deliver", "2026-03", *flags]) == 0
    err = capsys.readouterr().err
    assert "emails sent: 3/3" in err
    assert "sent 3 of 3 emails with 8 documents" in err
    assert "8 of the 8 documents of 2026-03 are now sent" in err

    # 3 emails, one per customer; 8 documents, each once (the module docstring's count).
    assert len(mailbox.accepted) == 3
    assert mailbox.documents() == MARCH_DOCUMENTS
    by_recipient = {rcpts[0]: message for rcpts, message in mailbox.accepted}
    assert sorted(by_recipient) == sorted(MARCH)
    beta = by_recipient["b@example.com"]
    assert beta["From"] == SENDER
    assert beta["To"] == '"Beta <Ltd>" <b@example.com>'
    assert beta["Subject"] == "Your credit statement and invoice for March 2026"
    assert beta["Date"] == "Thu, 02 Apr 2026 09:00:00 +0000"  # the --as-of clock
    assert by_recipient["c@example.com"]["Subject"] == (
        "Your credit statement, invoices and credit note for March 2026"
    )
    body = beta.get_body(("plain",)).get_content()
    assert body.startswith("Dear Beta <Ltd>,")  # plain text: nothing to escape
    assert "your documents for March 2026 (2026-03)" in body
    assert "- INV-2026-000006.pdf: invoice INV-2026-000006" in body
    # The attachments are the close's files, byte for byte.
    reports = root / "reports" / "2026-03"
    attached = {part.get_filename(): part.get_content() for part in beta.iter_attachments()}
    assert attached == {
        "statement-2026-03.pdf": (reports / "statements" / "cus_b.pdf").read_bytes(),
        "INV-2026-000006.pdf": (reports / "invoices" / "INV-2026-000006.pdf").read_bytes(),
    }
    message_ids = {message["Message-ID"] for message in by_recipient.values()}
    assert len(message_ids) == 3
    assert all(
        m.startswith("<credits.2026-03.") and m.endswith("@nova.example>") for m in message_ids
    )

    # Recorded once per document, with the email that carried it.
    recorded = _deliveries(root / "warehouse.duckdb")
    assert len(recorded) == 8
    assert Counter(kind for _, kind, *_ in recorded) == {
        "statement": 3, "invoice": 4, "credit_note": 1,
    }  # fmt: skip
    assert {(to, name) for _, _, name, to, _ in recorded} == set(MARCH_DOCUMENTS)
    assert {mid for *_, mid in recorded} == message_ids
    assert [line["event"] for line in _journal(root)] == ["sending", "sent"] * 3

    # Again: nothing to send, nothing sent.
    assert main(["deliver", "2026-03", *flags]) == 0
    assert "all 8 documents of 2026-03 were already sent" in capsys.readouterr().err
    assert len(mailbox.accepted) == 3

    # February's documents are the 3 fee invoices (INV-2026-000001..3), no statement.
    assert main(["deliver", "2026-02", *flags]) == 0
    february = mailbox.accepted[3:]
    assert sorted((rcpts[0], m["Subject"]) for rcpts, m in february) == [
        (f"{key}@example.com", "Your invoice for February 2026") for key in "abc"
    ]
    attached = sorted(part.get_filename() for _, m in february for part in m.iter_attachments())
    assert attached == ["INV-2026-000001.pdf", "INV-2026-000002.pdf", "INV-2026-000003.pdf"]
    assert len(_deliveries(root / "warehouse.duckdb")) == 8 + 3


@pytest.mark.parametrize("after", ["refuse", "hang_up"])
def test_a_server_failing_halfway_then_a_rerun_sends_exactly_the_rest(
    workspace, mailbox, capsys, after
):
    root, flags = workspace
    mailbox.accept, mailbox.after = 1, after
    assert main(["deliver", "2026-03", *flags]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    # cus_a's email (2 documents) went; cus_b's and cus_c's (2 + 4) did not.
    assert err[-1].startswith("credits deliver: 6 of the 8 documents of 2026-03 not sent (")
    assert err[-1].endswith("`credits deliver 2026-03` again sends exactly those")
    if after == "refuse":  # each refused with its reply; the others still tried
        assert "the server refused 2 of 3 emails, the first to cus_b: 451 4.3.0" in err[-1]
    else:  # the connection lost at cus_b: cus_c is not tried
        assert "stopped after 1 of 3 emails: at cus_b" in err[-1]
    assert mailbox.documents() == Counter({("a@example.com", n): 1 for n in MARCH["a@example.com"]})
    assert [to for _, _, _, to, _ in _deliveries(root / "warehouse.duckdb")] == [
        "a@example.com"
    ] * 2

    mailbox.accept = None
    assert main(["deliver", "2026-03", *flags]) == 0
    err = capsys.readouterr().err
    assert "sent 2 of 2 emails with 6 documents" in err
    # A hang-up left cus_b's email without a reply: sent again, under the same Message-ID.
    assert ("sent again" in err) == (after == "hang_up")
    assert mailbox.documents() == MARCH_DOCUMENTS  # each document exactly once in all
    assert len(_deliveries(root / "warehouse.duckdb")) == 8


KILLED_DELIVERY = """
import datetime as dt, os, smtplib, sys
from pathlib import Path
from credits_warehouse import delivery
from credits_warehouse.settings import resolve_smtp_settings

root, where = Path(sys.argv[1]), sys.argv[2]
calls = []

def killing(real):
    def wrapper(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            os._exit(9)  # SIGKILL's effect: no finally, no flush, nothing recorded after
        return real(*args, **kwargs)
    return wrapper

if where == "before_the_server":  # the `sending` line is on disk, the email not sent
    smtplib.SMTP.send_message = killing(smtplib.SMTP.send_message)
else:  # the server took the email; the `sent` line never written
    delivery.Journal.sent = killing(delivery.Journal.sent)
delivery.deliver(root / "warehouse.duckdb", root / "reports", "2026-03",
                 resolve_smtp_settings(), dt.datetime(2026, 4, 2, 9))
"""


@pytest.mark.parametrize("where", ["before_the_server", "after_the_server_accepted"])
def test_a_delivery_killed_at_the_second_email_then_run_again(workspace, mailbox, capsys, where):
    root, flags = workspace
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_DELIVERY, str(root), where], env=env, capture_output=True
    )
    assert killed.returncode == 9, killed.stderr.decode()[-2000:]
    journal = root / "reports" / "deliveries" / "2026-03.jsonl"
    events = [line["event"] for line in _journal(root)]
    assert events == ["sending", "sent", "sending"]  # cus_a sent, cus_b in flight
    assert _deliveries(root / "warehouse.duckdb") == []  # killed before recording anything
    with journal.open("ab") as fh:  # and a line torn by the kill, as a kill mid-write leaves
        fh.write(b'{"event": "sen')

    assert main(["deliver", "2026-03", *flags]) == 0
    err = capsys.readouterr().err
    # cus_a's email is not sent again (its `sent` line); cus_b's is, and cus_c's goes.
    assert "sent 2 of 2 emails with 6 documents" in err
    assert "sent again, as a delivery stopped before" in err
    assert ": 1 emails, the first to cus_b" in err
    b_documents = Counter({("b@example.com", n): 1 for n in MARCH["b@example.com"]})
    if where == "before_the_server":
        assert mailbox.documents() == MARCH_DOCUMENTS  # exactly once each
    else:
        # The one window where a document goes twice (docs/RELIABILITY.md): cus_b's email
        # was accepted, then the kill; the rerun sends it again with the same Message-ID.
        assert mailbox.documents() == MARCH_DOCUMENTS + b_documents
        ids = [m["Message-ID"] for rcpts, m in mailbox.accepted if rcpts == ["b@example.com"]]
        assert len(ids) == 2 and ids[0] == ids[1]
    # The killed run's cus_a is recorded now, with the rest: 8 documents, each once.
    recorded = _deliveries(root / "warehouse.duckdb")
    assert len(recorded) == 8 and {(to, n) for _, _, n, to, _ in recorded} == set(MARCH_DOCUMENTS)
    assert journal.read_bytes().endswith(b"\n")  # the torn line was cut off


def test_customer_text_cannot_add_headers_and_an_unusable_address_is_named(
    workspace, mailbox, capsys
):
    root, flags = workspace
    # Customer fields as hostile data may give them (patched in the copy's reporting tables).
    con = duckdb.connect(str(root / "warehouse.duckdb"))
    for table in ("rpt_statements", "rpt_invoices"):
        con.execute(
            f"update reporting.{table} set customer_name = ? where customer_id = 'cus_a'",  # noqa: S608
            ["Mallory\r\nBcc: victim@evil.example"],
        )
        con.execute(
            f"update reporting.{table} set customer_email = ? where customer_id = 'cus_b'",  # noqa: S608
            ["b@example.com\r\nBcc: victim@evil.example"],
        )
    con.close()

    assert main(["deliver", "2026-03", *flags]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == (
        "credits deliver: 2 of the 8 documents of 2026-03 not sent (no usable email address"
        " for cus_b ('b@example.com Bcc: victim@evil.example')); `credits deliver 2026-03`"
        " again sends exactly those"
    )
    assert [rcpts for rcpts, _ in mailbox.accepted] == [["a@example.com"], ["c@example.com"]]
    mallory = mailbox.accepted[0][1]
    assert mallory["To"] == '"Mallory Bcc: victim@evil.example" <a@example.com>'
    assert "Bcc" not in mallory

    assert main(["deliver", "2026-03", *flags]) == 1  # still cus_b's two, nothing sent twice
    assert "2 of the 8 documents" in capsys.readouterr().err
    assert len(mailbox.accepted) == 2


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_a_server_that_wants_a_login(workspace, monkeypatch, capsys):
    """CREDITS_SMTP_USER and _PASSWORD log in (AUTH); a wrong password ends the command
    with the server's reply before anything is sent."""
    box = Mailbox()

    def authenticate(server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and auth_data == (b"billing", b"s3cret")
        return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd replies

    # PLAIN only, so the refusal is one exchange (smtplib would try LOGIN after it).
    controller = _serve(
        box,
        monkeypatch,
        auth_required=True,
        auth_require_tls=False,
        auth_exclude_mechanism=["LOGIN"],
        authenticator=authenticate,
    )
    try:
        _, flags = workspace
        monkeypatch.setenv("CREDITS_SMTP_USER", "billing")
        monkeypatch.setenv("CREDITS_SMTP_PASSWORD", "wrong")
        assert main(["deliver", "2026-03", *flags]) == 1
        line = capsys.readouterr().err.strip().splitlines()[-1]
        assert line.startswith("credits deliver: SMTP server 127.0.0.1:")
        assert "refused the session: 535" in line and line.endswith("; nothing was sent")
        assert box.accepted == []

        monkeypatch.setenv("CREDITS_SMTP_PASSWORD", "s3cret")
        assert main(["deliver", "2026-03", *flags]) == 0
        assert box.documents() == MARCH_DOCUMENTS
    finally:
        controller.stop()


def test_refusals_are_one_line_and_send_nothing(workspace, mailbox, capsys, monkeypatch):
    root, flags = workspace

    def refused(*args: str) -> str:
        assert main(["deliver", *args, *flags]) == 1
        lines = capsys.readouterr().err.strip().splitlines()
        return lines[-1]

    assert refused("2026-3") == "credits deliver: period '2026-3' is not YYYY-MM"
    assert refused("March") == "credits deliver: period 'March' is not YYYY-MM"
    assert refused("2026-04") == (
        "credits deliver: period 2026-04 is not closed (closed through 2026-03);"
        " `credits close 2026-04` first"
    )
    statement = root / "reports" / "2026-03" / "statements" / "cus_b.pdf"
    statement.rename(statement.with_suffix(".moved"))
    assert refused("2026-03") == (
        f"credits deliver: 1 of the 8 documents of 2026-03 are missing, first {statement};"
        " nothing was sent"
    )
    statement.with_suffix(".moved").rename(statement)

    monkeypatch.setenv("CREDITS_SMTP_STARTTLS", "maybe")
    assert refused("2026-03") == (
        "credits deliver: CREDITS_SMTP_STARTTLS must be true or false, not 'maybe'"
    )
    monkeypatch.setenv("CREDITS_SMTP_STARTTLS", "no")
    monkeypatch.setenv("CREDITS_SMTP_USER", "billing")
    assert refused("2026-03") == (
        "credits deliver: CREDITS_SMTP_USER and CREDITS_SMTP_PASSWORD go together:"
        " set both or neither"
    )
    monkeypatch.delenv("CREDITS_SMTP_USER")
    monkeypatch.setenv("CREDITS_SMTP_PORT", "70000")
    assert refused("2026-03") == (
        "credits deliver: CREDITS_SMTP_PORT must be a positive whole number up to 65535, not '70000'"
    )
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        monkeypatch.setenv("CREDITS_SMTP_PORT", str(probe.getsockname()[1]))
    line = refused("2026-03")
    assert line.startswith("credits deliver: cannot reach the SMTP server 127.0.0.1:")
    assert line.endswith("; nothing was sent")
    monkeypatch.setenv("CREDITS_SMTP_FROM", "Billing")
    assert (
        refused("2026-03") == "credits deliver: CREDITS_SMTP_FROM 'Billing' is not an email address"
    )
    monkeypatch.delenv("CREDITS_SMTP_FROM")
    assert refused("2026-03") == (
        "credits deliver: CREDITS_SMTP_FROM is not set: the From address of the emails"
    )
    monkeypatch.delenv("CREDITS_SMTP_HOST")
    assert refused("2026-03") == (
        "credits deliver: CREDITS_SMTP_HOST is not set: the SMTP server to deliver through"
    )
    assert mailbox.accepted == []
    assert _deliveries(root / "warehouse.duckdb") == []
