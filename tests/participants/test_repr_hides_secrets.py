"""Values that carry contact details or credentials keep them out of repr(): a traceback, a debug print or a
log line formatting such an object must not show a phone number, a name or an access code."""

from __future__ import annotations

from participants.models import Participant
from participants.services import access, contacts


def test_contact_details_and_credentials_do_not_show_in_repr(amira_participant: Participant) -> None:
    # given
    details = contacts.contact_decrypt(amira_participant)
    credentials = access.credentials_issue(participant=amira_participant)
    issued = access.access_exchange_code(typed_code=credentials.access_code)
    secrets = [details.name, details.phone, credentials.access_code, credentials.link, issued.token]
    assert all(secrets)  # each is there to be hidden

    # when
    shown = " ".join(repr(value) for value in (details, credentials, issued))

    # then
    assert [secret for secret in secrets if secret in shown] == []
    assert "preferred_channel=" in shown  # the rest is still shown
