import uuid

from rest_framework.test import APIClient

from participants.models import ParticipantWave, Response
from participants.responses.opening import open_response


def test_pages_then_completion_open_to_exactly_the_answers(
    wave, study_key, research_keypair, amira_participant, amira: APIClient
) -> None:
    # given amira's pre-departure wave is open
    assert ParticipantWave.objects.get(participant=amira_participant, wave=wave).status == "open"
    # when she answers both pages and completes
    first = amira.post(
        f"/api/v1/me/waves/{wave.key}/answers/",
        {
            "submission_id": str(uuid.uuid4()),
            "section": "family",
            "answers": {"Q1": {"special": "-1"}, "Q49": 7},
        },
        format="json",
    )
    second = amira.post(
        f"/api/v1/me/waves/{wave.key}/answers/",
        {"submission_id": str(uuid.uuid4()), "section": "work", "answers": {"EMPLOYED": "yes", "HOURS": 38}},
        format="json",
    )
    done = amira.post(
        f"/api/v1/me/waves/{wave.key}/complete/", {"submission_id": str(uuid.uuid4())}, format="json"
    )
    # then
    assert (first.status_code, second.status_code, done.status_code) == (200, 200, 200), done.json()
    assert first.json()["next_section"] == "work"
    response = Response.objects.get(participant=amira_participant, wave=wave)
    document = open_response(response, private_key=research_keypair[0])
    assert document["answers"] == {"Q1": {"special": "-1"}, "Q49": 7, "EMPLOYED": "yes", "HOURS": 38}
    assert (response.draft_encrypted, response.status) == ("", "completed")
    assert ParticipantWave.objects.get(participant=amira_participant, wave=wave).status == "completed"


def test_the_last_page_can_complete_the_response_in_one_request(
    wave, study_key, research_keypair, amira_participant, amira: APIClient
) -> None:
    # given the first page is in
    amira.post(
        f"/api/v1/me/waves/{wave.key}/answers/",
        {"submission_id": str(uuid.uuid4()), "section": "family", "answers": {"Q1": "2", "Q49": 3}},
        format="json",
    )
    # when the last page says it completes the wave
    done = amira.post(
        f"/api/v1/me/waves/{wave.key}/answers/",
        {
            "submission_id": str(uuid.uuid4()),
            "section": "work",
            "answers": {"EMPLOYED": "no"},
            "complete": True,
        },
        format="json",
    )
    # then one request sealed everything
    assert done.status_code == 200
    assert done.json()["status"] == "completed"
    response = Response.objects.get(participant=amira_participant, wave=wave)
    assert open_response(response, private_key=research_keypair[0])["answers"] == {
        "Q1": "2",
        "Q49": 3,
        "EMPLOYED": "no",
    }
