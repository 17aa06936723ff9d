"""The e-mail backend of ``make run`` (backend.settings.local): a masked line per message, never the address
or the personal link that Django's own console backend would print."""

from __future__ import annotations

import logging

import pytest
from django.core import mail
from hypothesis import given
from hypothesis import strategies as st

from participants.reminders.providers.console.mail import EmailBackend, mask_email

ADDRESS = "amira.haddad@example.org"
LINK = "https://panel.example.org/p/#token=Zx81kQ"
CONSOLE = "participants.reminders.providers.console.mail.EmailBackend"


def test_the_local_settings_use_the_masked_backend() -> None:
    from backend.settings import local

    assert local.EMAIL_BACKEND == CONSOLE


def test_a_reminder_email_is_one_masked_line(
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    # when a message is sent through the backend, as the e-mail provider sends reminders
    connection = mail.get_connection(CONSOLE)
    message = mail.EmailMessage("Dags för enkäten om livet i Sverige", f"Hej Amira! {LINK}", to=[ADDRESS])
    with caplog.at_level(logging.INFO, logger="participants.reminders.console"):
        sent = connection.send_messages([message])

    # then it counts as sent and the log has one line without the address or the link
    assert sent == 1
    assert [record.getMessage() for record in caplog.records] == [
        "E-mail to a***@e***.org: Dags för enkäten om …"
    ]
    printed = capsys.readouterr()
    for text in (caplog.text, printed.out, printed.err):
        assert ADDRESS not in text
        assert "Zx81kQ" not in text


def test_every_recipient_is_masked_and_a_message_without_one_is_not_sent(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO, logger="participants.reminders.console"):
        sent = EmailBackend().send_messages(
            [
                mail.EmailMessage("Hej", "-", to=["a@b.se"], cc=["omar@mail.example.com"]),
                mail.EmailMessage("Nobody", "-", to=[]),
            ]
        )

    assert sent == 1
    assert [record.getMessage() for record in caplog.records] == [
        "E-mail to a***@b***.se, o***@m***.com: Hej"
    ]


@given(
    local=st.text(min_size=1, max_size=40).filter(lambda s: "@" not in s),
    other_local=st.text(max_size=40).filter(lambda s: "@" not in s),
    domain=st.from_regex(r"[a-z0-9-]{1,20}", fullmatch=True),
    other_domain=st.from_regex(r"[a-z0-9-]{0,20}", fullmatch=True),
    top=st.sampled_from(["se", "org", "com"]),
)
def test_two_addresses_alike_in_their_first_characters_mask_alike(
    local: str, other_local: str, domain: str, other_domain: str, top: str
) -> None:
    # nothing of an address shows but the first character of each part and the top-level domain: not even
    # their lengths
    masked = mask_email(f"{local}@{domain}.{top}")

    assert masked == mask_email(f"{local[0]}{other_local}@{domain[0]}{other_domain}.{top}")
    assert masked.endswith(f".{top}")


@pytest.mark.parametrize("address", ["", "no-at-sign", "@example.org", "amira@"])
def test_a_malformed_address_is_all_stars(address: str) -> None:
    assert mask_email(address) == "***"
