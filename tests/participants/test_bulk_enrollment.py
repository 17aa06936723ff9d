"""Enrolling a cohort from a CSV file: all rows or none, every problem reported by row and field."""

from __future__ import annotations

import csv
import io
import re

from django.contrib.auth.models import User
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from register_helpers import ACCESS_CODE_PATTERN, PSEUDONYM_PATTERN, csv_bytes, csv_row, csv_upload
from rest_framework.test import APIClient

from participants.models import AccessCode, AuditEntry, ConsentText, Participant, PhoneNumber, Site
from participants.services.bulk import COLUMNS, MAX_ROWS, enroll_from_csv


def _import_url(site: Site) -> str:
    return f"/api/v1/sites/{site.pk}/participants/import/"


def _post_csv(client: APIClient, site: Site, data: bytes) -> object:
    return client.post(_import_url(site), {"file": csv_upload(data)}, format="multipart")


def _stored() -> tuple[int, int, int, int]:
    return (
        Participant.objects.count(),
        PhoneNumber.objects.count(),
        AccessCode.objects.count(),
        AuditEntry.objects.count(),
    )


def test_a_good_file_enrolls_every_row_and_returns_their_codes(
    fatima: APIClient, site_a: Site, consent_text: ConsentText
) -> None:
    # given
    data = csv_bytes(
        [
            csv_row(name="Nour Saleh", phone="+46701000001", gender="woman"),
            csv_row(name="Omar Saleh", phone="+46 70 100 00 02", consent_method="on_screen", witnessed_by=""),
            csv_row(name="", phone="", email="hana@example.org", preferred_channel="email"),
        ]
    )

    # when
    response = _post_csv(fatima, site_a, data)

    # then
    assert response.status_code == 201
    body = response.json()
    assert body["enrolled"] == 3
    assert [entry["row"] for entry in body["participants"]] == [2, 3, 4]
    assert sorted(entry["pseudonym"] for entry in body["participants"]) == sorted(
        Participant.objects.values_list("pseudonym", flat=True)
    )
    for entry in body["participants"]:
        assert re.fullmatch(PSEUDONYM_PATTERN, entry["pseudonym"])
        assert re.fullmatch(ACCESS_CODE_PATTERN, entry["access_code"])
        assert entry["link"].startswith("http://127.0.0.1:8000/p/#token=")
    assert Participant.objects.filter(site=site_a).count() == 3
    assert PhoneNumber.objects.count() == 2
    bulk = AuditEntry.objects.get(action=AuditEntry.Action.BULK_ENROLLED)
    assert bulk.details == {"site": "site-a", "count": 3}


def test_the_codes_of_a_bulk_import_open_each_participants_session(
    fatima: APIClient, site_a: Site, consent_text: ConsentText
) -> None:
    # given
    data = csv_bytes([csv_row(phone="+46701000001"), csv_row(phone="+46701000002")])
    enrolled = _post_csv(fatima, site_a, data).json()["participants"]

    # when
    pseudonyms = [
        APIClient()
        .post("/api/v1/access/code/", {"code": entry["access_code"]}, format="json")
        .json()["pseudonym"]
        for entry in enrolled
    ]

    # then
    assert pseudonyms == [entry["pseudonym"] for entry in enrolled]


def test_a_file_with_bad_rows_saves_nothing_and_lists_exactly_those_rows(
    fatima: APIClient, site_a: Site, consent_text: ConsentText
) -> None:
    # given
    before = _stored()
    data = csv_bytes(
        [
            csv_row(phone="+46 70 12"),  # row 2: not a phone number
            csv_row(phone="+46701000003"),  # row 3: fine
            csv_row(phone="+46701000004", consent_version="7"),  # row 4: no such consent version
            csv_row(phone="+46701000005"),  # row 5: fine
        ]
    )

    # when
    response = _post_csv(fatima, site_a, data)

    # then
    assert response.status_code == 400
    assert response.json() == {
        "detail": "2 problems; nothing was saved.",
        "code": "invalid_rows",
        "errors": [
            {"row": 2, "field": "phone", "message": "This phone number does not exist in its country's numbering plan."},
            {"row": 4, "field": "consent.consent_text", "message": "This field may not be null."},
        ],
    }  # fmt: skip
    assert _stored() == before


def test_the_same_phone_number_twice_in_a_file_is_reported_on_the_second_row(
    fatima: APIClient, site_a: Site, consent_text: ConsentText
) -> None:
    # given
    before = _stored()
    data = csv_bytes(
        [csv_row(phone="+46701000003"), csv_row(phone="+46701000009"), csv_row(phone="+46 70-100 00 03")]
    )

    # when
    response = _post_csv(fatima, site_a, data)

    # then
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"row": 4, "field": "phone", "message": "The same phone number is on row 2."}
    ]
    assert _stored() == before


def test_a_phone_number_enrolled_before_is_reported_on_its_row(
    fatima: APIClient, site_a: Site, consent_text: ConsentText, amira_participant: Participant
) -> None:
    # given
    before = _stored()
    data = csv_bytes([csv_row(phone="+46701000003"), csv_row(phone="+46701111111")])

    # when
    response = _post_csv(fatima, site_a, data)

    # then
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"row": 3, "field": "phone", "message": "This phone number is already enrolled in this study."}
    ]
    assert _stored() == before


def test_a_file_that_is_not_utf8_is_refused(
    fatima: APIClient, site_a: Site, consent_text: ConsentText
) -> None:
    # given: the sheet saved as Latin-1, as older spreadsheet programs do
    data = csv_bytes([csv_row(name="Jürgen Müller")]).decode().encode("latin-1")

    # when
    response = _post_csv(fatima, site_a, data)

    # then
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"row": 0, "field": "file", "message": "The file is not UTF-8 text; export the sheet as CSV UTF-8."}
    ]
    assert Participant.objects.count() == 0


def test_a_utf8_file_with_a_byte_order_mark_is_read(
    fatima: APIClient, site_a: Site, consent_text: ConsentText
) -> None:
    response = _post_csv(fatima, site_a, b"\xef\xbb\xbf" + csv_bytes([csv_row(name="Jürgen Müller")]))

    assert response.status_code == 201
    assert response.json()["enrolled"] == 1


def test_missing_required_columns_are_named(
    fatima: APIClient, site_a: Site, consent_text: ConsentText
) -> None:
    # given
    columns = [column for column in COLUMNS if column not in {"birth_year", "consent_method"}]

    # when
    response = _post_csv(fatima, site_a, csv_bytes([csv_row()], columns=columns))

    # then
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {
            "row": 1,
            "field": "birth_year,consent_method",
            "message": "Required columns are missing from the header.",
        }
    ]
    assert Participant.objects.count() == 0


def test_a_file_with_no_rows_is_refused(fatima: APIClient, site_a: Site, consent_text: ConsentText) -> None:
    response = _post_csv(fatima, site_a, csv_bytes([]))

    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"row": 1, "field": "file", "message": f"The file must hold 1 to {MAX_ROWS} participants."}
    ]


def test_a_file_with_too_many_rows_is_refused_before_any_row_is_checked(
    site_a: Site, fatima_user: User, consent_text: ConsentText
) -> None:
    # given
    data = csv_bytes([csv_row()] * (MAX_ROWS + 1))

    # when
    outcome = enroll_from_csv(site=site_a, by=fatima_user, data=data)

    # then
    assert [(error.row, error.field) for error in outcome.errors] == [(1, "file")]
    assert outcome.enrolled == []
    assert Participant.objects.count() == 0


def test_an_upload_without_a_file_is_refused(fatima: APIClient, site_a: Site) -> None:
    response = fatima.post(_import_url(site_a), {}, format="multipart")

    assert response.status_code == 400
    assert response.json() == {"detail": "Attach the CSV file as 'file'.", "code": "invalid", "field": "file"}


def test_gustav_cannot_import_into_site_a(gustav: APIClient, site_a: Site, consent_text: ConsentText) -> None:
    response = _post_csv(gustav, site_a, csv_bytes([csv_row()]))

    assert response.status_code == 404
    assert Participant.objects.count() == 0


def test_a_file_with_carriage_return_line_endings_is_read(
    fatima: APIClient, site_a: Site, consent_text: ConsentText
) -> None:
    # given
    data = csv_bytes([csv_row(phone="+46701000001"), csv_row(phone="+46701000002")]).replace(b"\n", b"\r")
    fatima.raise_request_exception = False

    # when
    response = _post_csv(fatima, site_a, data)

    # then
    assert response.status_code == 201
    assert response.json()["enrolled"] == 2


def test_an_unterminated_quote_is_reported_as_a_problem_of_the_file(
    fatima: APIClient, site_a: Site, consent_text: ConsentText
) -> None:
    # given: a stray quote in row 2's name, and enough rows after it (well under the 5 MB limit)
    rows = [csv_row(name='"Nour', phone="+46701000001")] + [csv_row(phone="")] * 2000
    data = csv_bytes(rows).replace(b'"""Nour"', b'"Nour')
    fatima.raise_request_exception = False

    # when
    response = _post_csv(fatima, site_a, data)

    # then
    assert len(data) < 5 * 1024 * 1024
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "file"
    assert Participant.objects.count() == 0


# --- any bytes at all ------------------------------------------------------------------------------------


def _csv_text(rows: list[list[str]], line_ending: str) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator=line_ending)
    writer.writerow(COLUMNS)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


csv_like_files = st.builds(
    _csv_text,
    st.lists(st.lists(st.text(max_size=20), max_size=len(COLUMNS) + 2), max_size=4),
    st.sampled_from(["\n", "\r\n"]),
)


@settings(
    max_examples=50,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.one_of(st.binary(max_size=400), csv_like_files))
@example(data=b"a\rb,c\n")
def test_random_bytes_as_a_csv_never_crash_the_import(
    site_a: Site, fatima_user: User, consent_text: ConsentText, data: bytes
) -> None:
    outcome = enroll_from_csv(site=site_a, by=fatima_user, data=data)

    # Either every row was enrolled, or nothing was and the problems are listed.
    assert bool(outcome.errors) != bool(outcome.enrolled)
    for error in outcome.errors:
        assert error.row >= 0
        assert error.field
