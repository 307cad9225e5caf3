"""The mailer (bdpilot.store.mailer): an SMTP relay (a local aiosmtpd server: STARTTLS, TLS, login), SES in moto,
the local outbox, and a failed send queued as MAIL#<id> and sent by the scheduled retry (bdpilot.web.mailqueue)."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import ipaddress
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from bdpilot import settings
from bdpilot.domain.mail import Message
from bdpilot.store import mailer
from bdpilot.web import mailqueue

NOW = dt.datetime(2019, 11, 15, 10, 0, tzinfo=dt.UTC)
MESSAGE = Message("contact@example.com", "【申报回执】BD2020-TEST 申报书已提交", "您好：\n申报编号：BD2020-TEST\n",
                  "BD2020-TEST")


class Inbox:
    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        self.messages.append(email.message_from_bytes(envelope.original_content, policy=email.policy.default))
        return "250 OK"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1: the server's, and the only CA the mailer trusts in these tests."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(dt.datetime.now(dt.UTC) - dt.timedelta(1))
            .not_valid_after(dt.datetime.now(dt.UTC) + dt.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))
    folder = tmp_path_factory.mktemp("tls")
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                       serialization.NoEncryption()))
    return folder / "cert.pem", folder / "key.pem"


@pytest.fixture
def trusted(certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mailer, "tls_context", lambda: ssl.create_default_context(cafile=str(certificate[0])))


def _server_tls(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(certificate[0]), str(certificate[1]))
    return context


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"relay-user", b"relay-password-0123")
    return AuthResult(success=ok)


@pytest.fixture
def relay(certificate: tuple[Path, Path], trusted: None) -> Iterator[tuple[Inbox, int]]:
    """smtp://: STARTTLS required, login required (only over TLS)."""
    inbox, port = Inbox(), _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, tls_context=_server_tls(certificate),
                            require_starttls=True, authenticator=_authenticator, auth_required=True)
    controller.start()
    yield inbox, port
    controller.stop()


@pytest.fixture
def mail_env(aws: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("BDPILOT_MAIL_FROM", "申报系统 <noreply@bdpilot.example.cn>")
    monkeypatch.setenv("BDPILOT_OUTBOX_DIR", str(tmp_path / "outbox"))
    mailer._client.cache_clear()
    return tmp_path / "outbox"


def _login_parameter(monkeypatch: pytest.MonkeyPatch) -> None:
    boto3.client("ssm").put_parameter(Name="/bdpilot/smtp", Value="relay-user:relay-password-0123",
                                      Type="SecureString")
    settings.parameter_secret.cache_clear()
    monkeypatch.setenv("BDPILOT_SMTP_SECRET_PARAMETER", "/bdpilot/smtp")


def test_smtp_relay_upgrades_with_starttls_and_logs_in(mail_env: Path, relay: tuple[Inbox, int],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    inbox, port = relay
    _login_parameter(monkeypatch)
    monkeypatch.setenv("BDPILOT_MAIL", "smtp")
    monkeypatch.setenv("BDPILOT_SMTP_URL", f"smtp://127.0.0.1:{port}")
    assert mailer.send(settings.load(), MESSAGE) == "sent"
    assert inbox.envelopes == [("noreply@bdpilot.example.cn", ["contact@example.com"])]
    got = inbox.messages[0]
    assert str(got["Subject"]) == MESSAGE.subject and got["X-Bdpilot-Reference"] == "BD2020-TEST"
    assert got.get_content().replace("\r\n", "\n") == MESSAGE.text and "申报系统" in str(got["From"])


def test_smtps_relay_speaks_tls_from_the_first_byte(mail_env: Path, certificate: tuple[Path, Path], trusted: None,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    inbox, port = Inbox(), _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, ssl_context=_server_tls(certificate),
                            server_hostname="127.0.0.1")
    controller.start()
    try:
        monkeypatch.setenv("BDPILOT_MAIL", "smtp")
        monkeypatch.setenv("BDPILOT_SMTP_URL", f"smtps://127.0.0.1:{port}")
        assert mailer.send(settings.load(), MESSAGE) == "sent"
    finally:
        controller.stop()
    assert len(inbox.messages) == 1


def test_a_relay_without_starttls_or_with_an_untrusted_certificate_gets_nothing(
        mail_env: Path, certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch, aws: Any) -> None:
    plain, port = Inbox(), _free_port()
    controller = Controller(plain, hostname="127.0.0.1", port=port)  # no TLS offered
    controller.start()
    try:
        monkeypatch.setenv("BDPILOT_MAIL", "smtp")
        monkeypatch.setenv("BDPILOT_SMTP_URL", f"smtp://127.0.0.1:{port}")
        assert mailer.send(settings.load(), MESSAGE, NOW) == "queued"
    finally:
        controller.stop()
    assert plain.messages == []
    secured, port = Inbox(), _free_port()
    controller = Controller(secured, hostname="127.0.0.1", port=port, tls_context=_server_tls(certificate),
                            require_starttls=True)
    controller.start()
    try:  # the system's CAs do not know the test certificate
        monkeypatch.setenv("BDPILOT_SMTP_URL", f"smtp://127.0.0.1:{port}")
        assert mailer.send(settings.load(), MESSAGE, NOW) == "queued"
    finally:
        controller.stop()
    assert secured.messages == []
    assert len(_queued(aws)) == 2


def test_ses_sends_through_sesv2(mail_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends

    boto3.client("ses").verify_email_identity(EmailAddress="noreply@bdpilot.example.cn")
    monkeypatch.setenv("BDPILOT_MAIL", "ses")
    assert mailer.send(settings.load(), MESSAGE) == "sent"
    sent = ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages
    assert len(sent) == 1 and sent[0].destinations["ToAddresses"] == ["contact@example.com"]
    assert sent[0].subject == MESSAGE.subject and sent[0].body == MESSAGE.text


def test_the_outbox_keeps_one_eml_per_message(mail_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BDPILOT_MAIL", "outbox")
    cfg = settings.load()
    assert mailer.send(cfg, MESSAGE) == "sent" and mailer.send(cfg, MESSAGE) == "sent"
    files = sorted(mail_env.iterdir())
    assert len(files) == 2 and all(f.suffix == ".eml" and not f.name.startswith(".") for f in files)
    got = email.message_from_bytes(files[0].read_bytes(), policy=email.policy.default)
    assert str(got["Subject"]) == MESSAGE.subject and got.get_content() == MESSAGE.text
    assert got["To"] == "contact@example.com"


def test_mail_off_sends_and_queues_nothing(mail_env: Path, monkeypatch: pytest.MonkeyPatch, aws: Any) -> None:
    monkeypatch.setenv("BDPILOT_MAIL", "off")
    assert mailer.send(settings.load(), MESSAGE) == "off"
    assert _queued(aws) == [] and not mail_env.exists()


def _queued(aws: Any) -> list[dict[str, Any]]:
    return [i for i in aws.items() if i["pk"]["S"].startswith("MAIL#")]


def test_a_failed_send_is_queued_and_the_retry_sends_it_once(mail_env: Path, relay: tuple[Inbox, int], aws: Any,
                                                              monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    inbox, port = relay
    _login_parameter(monkeypatch)
    monkeypatch.setenv("BDPILOT_MAIL", "smtp")
    monkeypatch.setenv("BDPILOT_SMTP_URL", f"smtp://127.0.0.1:{_free_port()}")  # nothing listens there
    assert mailqueue.send(settings.load(), MESSAGE) == "queued"
    [item] = _queued(aws)
    assert item["to"]["S"] == MESSAGE.to and item["entity"]["S"] == "MAIL"
    assert int(item["expires_at"]["N"]) > dt.datetime.now(dt.UTC).timestamp() + 6 * 86400
    out = capsys.readouterr().out
    assert '"MailFailed"' in out and '"MailQueued"' in out and "contact@example.com" not in out

    # Still down: the retry fails, keeps the message and counts the failure.
    assert mailer.retry_queued(settings.load(), NOW).failed == 1 and len(_queued(aws)) == 1
    # Up again, after the failed run's claim ran out: sent once, and gone from the queue.
    monkeypatch.setenv("BDPILOT_SMTP_URL", f"smtp://127.0.0.1:{port}")
    later = NOW + dt.timedelta(seconds=mailer.CLAIM_SECONDS + 1)
    done = mailer.retry_queued(settings.load(), later)
    assert (done.sent, done.failed, done.skipped) == (1, 0, 0)
    assert _queued(aws) == [] and len(inbox.messages) == 1
    assert inbox.messages[0].get_content().replace("\r\n", "\n") == MESSAGE.text
    assert mailer.retry_queued(settings.load(), later).sent == 0


def test_a_message_claimed_by_one_run_is_not_sent_by_another(mail_env: Path, aws: Any,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BDPILOT_MAIL", "outbox")
    cfg = settings.load()
    mailer.queue(cfg, MESSAGE, NOW, "OSError")
    [listed] = mailer.queued(cfg)
    assert mailer._claim(cfg, listed["pk"], NOW) is not None  # a run holds it
    done = mailer.retry_queued(cfg, NOW + dt.timedelta(seconds=5))  # an overlapping run
    assert (done.sent, done.skipped) == (0, 1) and not mail_env.exists()


def test_the_scheduled_handler_reports_the_queue(mail_env: Path, aws: Any, monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    from bdpilot.ops.local import LambdaContext

    monkeypatch.setenv("BDPILOT_MAIL", "outbox")
    mailer.queue(settings.load(), MESSAGE, dt.datetime.now(dt.UTC), "OSError")
    context = LambdaContext("bdpilot-mailqueue", 256, "arn:aws:lambda:us-east-1:123456789012:function:q", "r")
    assert mailqueue.handler({}, context) == {"sent": 1, "failed": 0, "skipped": 0}
    assert len(list(mail_env.iterdir())) == 1
    out = capsys.readouterr().out
    assert '"MailSent"' in out and '"MailQueueAge"' in out
