"""Getting in: participants with codes, links and Bearer tokens; staff with passwords and Token keys."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
import time_machine
from django.conf import settings
from django.contrib.auth.hashers import check_password, get_hasher, make_password
from django.contrib.auth.models import User
from django.core.cache import cache
from django.test import override_settings
from django.utils import timezone
from register_helpers import API, bearer_client, exchange_code, link_token, participant_url
from rest_framework.test import APIClient

from backend.settings import base as base_settings
from participants import codes
from participants.models import Participant, ParticipantToken, StaffLoginState
from participants.services import access
from participants.throttles import AccessCodeGlobalThrottle

DENIED = {
    "detail": "This code or link is not valid. Check it, or ask the study team for a new one.",
    "code": "access_denied",
}
KNOWN_CODE = "K7M0-9Q1D-2F8H"  # holds a 0 and a 1, which people type as O, I or L


@pytest.fixture
def amira_code(amira_participant: Participant, monkeypatch: pytest.MonkeyPatch) -> str:
    """Amira's access code, a known one, so typing mistakes can be made on purpose."""
    monkeypatch.setattr(codes, "new_access_code", lambda: KNOWN_CODE)
    return access.credentials_issue(participant=amira_participant).access_code


def _token_from(code: str) -> str:
    response = exchange_code(code)
    assert response.status_code == 200
    return response.json()["token"]


# --- access codes ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "typed",
    [
        "K7M0-9Q1D-2F8H",
        "k7m0-9q1d-2f8h",
        "K7M0 9Q1D 2F8H",
        " k7m0 9q1d-2f8h ",
        "K7MO-9QID-2F8H",
        "k7mo9qld2f8h",
    ],
)
def test_a_code_typed_loosely_gives_a_token_that_opens_the_participants_own_page(
    amira_code: str, amira_participant: Participant, typed: str
) -> None:
    # when
    response = exchange_code(typed)

    # then
    assert amira_code == KNOWN_CODE
    assert response.status_code == 200
    body = response.json()
    assert (body["pseudonym"], body["preferred_language"]) == (amira_participant.pseudonym, "ar")
    me = bearer_client(body["token"]).get(f"{API}/me/")
    assert me.status_code == 200
    assert me.json()["pseudonym"] == amira_participant.pseudonym


def test_a_token_lives_for_the_configured_number_of_days(amira_code: str) -> None:
    before = timezone.now()

    body = exchange_code(amira_code).json()

    expires_at = datetime.datetime.fromisoformat(body["expires_at"])
    lifetime = datetime.timedelta(days=settings.PARTICIPANT_TOKEN_DAYS)
    assert before + lifetime <= expires_at <= timezone.now() + lifetime


def test_a_wrong_code_is_refused_with_401(amira_code: str) -> None:
    response = exchange_code("K7M0-9Q1D-2F8J")

    assert response.status_code == 401
    assert response.json() == DENIED


@pytest.mark.parametrize(
    "typed", ["K7M0-9Q1D", "K7M0-9Q1D-2F8H-X", "K7M0-9Q1D-2F8U", "K7M0_9Q1D_2F8H", "ÄÄÄÄ-9Q1D-2F8H"]
)
def test_something_that_cannot_be_a_code_is_refused_naming_the_code_field(
    amira_code: str, typed: str
) -> None:
    response = exchange_code(typed)

    assert response.status_code == 400
    assert response.json() == {
        "detail": "An access code has 12 letters and digits, e.g. K7M3-9QXD-2F8H.",
        "code": "invalid",
        "field": "code",
    }


def test_reissuing_kills_the_old_code_and_the_old_unused_link_at_once(
    fatima: APIClient, amira_participant: Participant
) -> None:
    # given
    old = access.credentials_issue(participant=amira_participant)

    # when
    response = fatima.post(participant_url(amira_participant, "access-code/"))

    # then
    assert response.status_code == 201
    new_code = response.json()["access_code"]
    assert new_code != old.access_code
    assert exchange_code(old.access_code).status_code == 401
    assert exchange_code(new_code).status_code == 200
    old_link = APIClient().post(f"{API}/access/link/", {"token": link_token(old.link)}, format="json")
    assert old_link.status_code == 401
    new_link = APIClient().post(
        f"{API}/access/link/", {"token": link_token(response.json()["link"])}, format="json"
    )
    assert new_link.status_code == 200


def test_gustav_cannot_reissue_the_code_of_a_site_a_participant(
    gustav: APIClient, amira_participant: Participant, amira_code: str
) -> None:
    response = gustav.post(participant_url(amira_participant, "access-code/"))

    assert response.status_code == 404
    assert exchange_code(amira_code).status_code == 200


# --- personal links --------------------------------------------------------------------------------------


def test_a_link_token_works_once(amira_participant: Participant) -> None:
    # given
    token = link_token(access.credentials_issue(participant=amira_participant).link)

    # when
    first = APIClient().post(f"{API}/access/link/", {"token": token}, format="json")
    second = APIClient().post(f"{API}/access/link/", {"token": token}, format="json")

    # then
    assert first.status_code == 200
    assert first.json()["pseudonym"] == amira_participant.pseudonym
    assert bearer_client(first.json()["token"]).get(f"{API}/me/").status_code == 200
    assert second.status_code == 401
    assert second.json() == DENIED


def test_a_link_expires_after_the_configured_number_of_days(amira_participant: Participant) -> None:
    token = link_token(access.credentials_issue(participant=amira_participant).link)

    with time_machine.travel(timezone.now() + datetime.timedelta(days=settings.LINK_TOKEN_DAYS, minutes=1)):
        response = APIClient().post(f"{API}/access/link/", {"token": token}, format="json")

    assert response.status_code == 401


# --- participant tokens ----------------------------------------------------------------------------------


def test_refreshing_gives_a_new_token_and_the_old_one_stops_working(amira_code: str) -> None:
    # given
    old_token = _token_from(amira_code)

    # when
    response = bearer_client(old_token).post(f"{API}/me/token/refresh/")

    # then
    assert response.status_code == 200
    new_token = response.json()["token"]
    assert new_token != old_token
    assert bearer_client(old_token).get(f"{API}/me/").status_code == 401
    assert bearer_client(new_token).get(f"{API}/me/").status_code == 200


def test_logging_out_revokes_the_token(amira_code: str) -> None:
    # given
    token = _token_from(amira_code)
    other_device = _token_from(amira_code)

    # when
    response = bearer_client(token).post(f"{API}/me/logout/")

    # then
    assert response.status_code == 204
    assert bearer_client(token).get(f"{API}/me/").status_code == 401
    assert bearer_client(other_device).get(f"{API}/me/").status_code == 200


def test_an_expired_token_is_refused(amira_code: str) -> None:
    # given
    token = _token_from(amira_code)
    lifetime = datetime.timedelta(days=settings.PARTICIPANT_TOKEN_DAYS)

    # when
    with time_machine.travel(timezone.now() + lifetime - datetime.timedelta(minutes=1)):
        just_before = bearer_client(token).get(f"{API}/me/")
    with time_machine.travel(timezone.now() + lifetime + datetime.timedelta(minutes=1)):
        just_after = bearer_client(token).get(f"{API}/me/")

    # then
    assert just_before.status_code == 200
    assert just_after.status_code == 401
    assert just_after["WWW-Authenticate"] == 'Bearer realm="participant"'


def test_a_token_records_when_it_was_last_used_at_most_hourly(amira_code: str) -> None:
    # given a token, which records its issue as its last use
    token = _token_from(amira_code)
    stored = ParticipantToken.objects.get(token_hash=codes.token_digest(token))
    issued = stored.last_used_at
    assert issued is not None

    # when it is used within the hour, then after more than an hour without use
    soon, later = issued + datetime.timedelta(minutes=59), issued + datetime.timedelta(hours=2)
    with time_machine.travel(soon, tick=False):
        within_the_hour = bearer_client(token).get(f"{API}/me/")
    stored.refresh_from_db()
    unchanged = stored.last_used_at
    with time_machine.travel(later, tick=False):
        after_two_hours = bearer_client(token).get(f"{API}/me/")
    stored.refresh_from_db()

    # then the first use writes nothing, the second records its time
    assert (within_the_hour.status_code, after_two_hours.status_code) == (200, 200)
    assert unchanged == issued
    assert stored.last_used_at == later


def test_a_made_up_bearer_token_is_refused(amira_participant: Participant) -> None:
    response = bearer_client("made-up-token").get(f"{API}/me/")

    assert response.status_code == 401


# --- throttling ------------------------------------------------------------------------------------------


def test_the_eleventh_attempt_from_one_address_within_a_minute_is_throttled(amira_code: str) -> None:
    # given
    cache.clear()
    wrong = [exchange_code("AAAA-BBBB-CCCC", remote_addr="203.0.113.7").status_code for _ in range(10)]

    # when: even the right code
    eleventh = exchange_code(amira_code, remote_addr="203.0.113.7")
    elsewhere = exchange_code(amira_code, remote_addr="198.51.100.20")

    # then
    assert wrong == [401] * 10
    assert eleventh.status_code == 429
    assert elsewhere.status_code == 200


def test_the_link_exchange_shares_the_per_address_budget(amira_participant: Participant) -> None:
    # given
    cache.clear()
    token = link_token(access.credentials_issue(participant=amira_participant).link)
    for _ in range(10):
        exchange_code("AAAA-BBBB-CCCC", remote_addr="203.0.113.7")

    # when
    response = APIClient().post(
        f"{API}/access/link/", {"token": token}, format="json", REMOTE_ADDR="203.0.113.7"
    )

    # then
    assert response.status_code == 429


@pytest.fixture
def small_global_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    # DRF copies the rates into a class attribute when throttling.py is imported, so override_settings
    # would not reach them: patch the copy the global throttle reads.
    rates = {**AccessCodeGlobalThrottle.THROTTLE_RATES, "access_code_global": "3/minute"}
    monkeypatch.setattr(AccessCodeGlobalThrottle, "THROTTLE_RATES", rates)
    cache.clear()


def test_the_global_budget_throttles_many_addresses_together(
    small_global_budget: None, amira_code: str
) -> None:
    # given
    addresses = ["203.0.113.1", "203.0.113.2", "203.0.113.3"]
    spent = [exchange_code("AAAA-BBBB-CCCC", remote_addr=address).status_code for address in addresses]

    # when
    fourth = exchange_code(amira_code, remote_addr="198.51.100.4")

    # then
    assert spent == [401, 401, 401]
    assert fourth.status_code == 429


def test_a_forged_forwarded_for_header_does_not_escape_the_per_address_throttle(amira_code: str) -> None:
    # given
    cache.clear()
    for attempt in range(10):
        APIClient().post(
            f"{API}/access/code/", {"code": "AAAA-BBBB-CCCC"}, format="json",
            REMOTE_ADDR="203.0.113.7", HTTP_X_FORWARDED_FOR=f"10.0.0.{attempt}",
        )  # fmt: skip

    # when
    eleventh = APIClient().post(
        f"{API}/access/code/", {"code": amira_code}, format="json",
        REMOTE_ADDR="203.0.113.7", HTTP_X_FORWARDED_FOR="10.0.0.99",
    )  # fmt: skip

    # then
    assert eleventh.status_code == 429


# --- staff sign-in ---------------------------------------------------------------------------------------


def _login(username: str, password: str) -> Any:
    cache.clear()  # the per-address throttle is not what these tests are about: the lockout is
    return APIClient().post(f"{API}/auth/token/", {"username": username, "password": password}, format="json")


def test_the_eleventh_sign_in_attempt_from_one_address_within_a_minute_is_throttled(
    fatima_user: User,
) -> None:
    # given: ten attempts at names that do not exist, so no account gets locked
    attempts = [
        APIClient()
        .post(f"{API}/auth/token/", {"username": f"nobody-{n}", "password": "x"}, format="json")
        .status_code
        for n in range(10)
    ]

    # when
    eleventh = APIClient().post(
        f"{API}/auth/token/", {"username": "fatima", "password": "fatima-Passw0rd!-long"}, format="json"
    )

    # then
    assert attempts == [401] * 10
    assert eleventh.status_code == 429
    assert StaffLoginState.objects.filter(user=fatima_user).count() == 0


def test_staff_sign_in_gives_a_token_for_the_authorization_header(fatima_user: User) -> None:
    # when
    response = _login("fatima", "fatima-Passw0rd!-long")

    # then
    assert response.status_code == 200
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {response.json()['token']}")
    sites = client.get(f"{API}/sites/")
    assert sites.status_code == 200
    assert [site["code"] for site in sites.json()] == ["site-a"]


def test_a_staff_token_is_stored_only_as_a_digest_expires_and_ends_at_sign_out(fatima_user: User) -> None:
    from django.db import connection
    from knox.models import AuthToken

    # given
    signed_in = _login("fatima", "fatima-Passw0rd!-long").json()
    token, expires_at = signed_in["token"], datetime.datetime.fromisoformat(signed_in["expires_at"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")

    # then a database dump does not hold it (only a digest and its first characters, to find the row)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {AuthToken._meta.db_table}")  # noqa: S608 - the model's own table
        dumped = " ".join(str(value) for row in cursor.fetchall() for value in row)
    assert token not in dumped
    assert len(token) == 64
    assert (
        datetime.timedelta(hours=9, minutes=59) < expires_at - timezone.now() <= datetime.timedelta(hours=10)
    )
    assert client.get(f"{API}/sites/").status_code == 200
    # and it stops working when she signs out
    assert client.post(f"{API}/auth/logout/").status_code == 204
    assert client.get(f"{API}/sites/").status_code == 401
    # ... or when it expires
    client.credentials(
        HTTP_AUTHORIZATION=f"Token {_login('fatima', 'fatima-Passw0rd!-long').json()['token']}"
    )
    assert client.get(f"{API}/sites/").status_code == 200
    with time_machine.travel(expires_at + datetime.timedelta(minutes=1)):
        assert client.get(f"{API}/sites/").status_code == 401


def test_a_wrong_password_is_refused_with_401(fatima_user: User) -> None:
    response = _login("fatima", "not-her-password")

    assert response.status_code == 401
    assert response.json() == {"detail": "Wrong username or password.", "code": "invalid_credentials"}


def test_five_failures_lock_the_account_even_against_the_right_password(fatima_user: User) -> None:
    # given
    failures = [_login("fatima", f"guess-{attempt}").status_code for attempt in range(5)]

    # when
    sixth = _login("fatima", "fatima-Passw0rd!-long")

    # then
    assert failures == [401] * 5
    assert sixth.status_code == 400
    assert sixth.json() == {
        "detail": "Too many failed attempts; this account is locked for a while.",
        "code": "invalid",
        "field": "username",
    }
    assert StaffLoginState.objects.get(user=fatima_user).locked_until is not None


def test_a_locked_account_opens_again_after_the_lockout(fatima_user: User) -> None:
    # given
    for attempt in range(5):
        _login("fatima", f"guess-{attempt}")
    later = timezone.now() + datetime.timedelta(minutes=settings.STAFF_LOCKOUT_MINUTES, seconds=1)

    # when
    with time_machine.travel(later):
        response = _login("fatima", "fatima-Passw0rd!-long")

    # then
    assert response.status_code == 200


def test_a_successful_sign_in_resets_the_failure_count(fatima_user: User) -> None:
    # given
    for attempt in range(4):
        _login("fatima", f"guess-{attempt}")
    _login("fatima", "fatima-Passw0rd!-long")
    for attempt in range(4):
        _login("fatima", f"again-{attempt}")

    # when
    response = _login("fatima", "fatima-Passw0rd!-long")

    # then
    assert response.status_code == 200


def test_the_lockout_is_per_account(fatima_user: User, gustav_user: User) -> None:
    for attempt in range(5):
        _login("fatima", f"guess-{attempt}")

    assert _login("gustav", "gustav-Passw0rd!-long").status_code == 200


def test_staff_logout_deletes_the_token(fatima_user: User) -> None:
    # given
    client = APIClient()
    client.credentials(
        HTTP_AUTHORIZATION=f"Token {_login('fatima', 'fatima-Passw0rd!-long').json()['token']}"
    )

    # when
    response = client.post(f"{API}/auth/logout/")

    # then
    assert response.status_code == 204
    assert client.get(f"{API}/sites/").status_code == 401


def test_staff_passwords_are_hashed_with_argon2_in_production_settings() -> None:
    with override_settings(PASSWORD_HASHERS=base_settings.PASSWORD_HASHERS):
        hasher = get_hasher("default")
        encoded = make_password("a long staff passphrase")

        assert hasher.algorithm == "argon2"
        assert encoded.startswith("argon2$argon2id$")
        assert check_password("a long staff passphrase", encoded) is True
        assert check_password("another passphrase", encoded) is False
