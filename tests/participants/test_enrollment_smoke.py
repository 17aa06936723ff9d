from rest_framework.test import APIClient

from participants.models import Participant


def test_amira_reads_her_questionnaire_wave_list(amira: APIClient, amira_participant: Participant) -> None:
    response = amira.get("/api/v1/me/")
    assert response.status_code == 200
    assert response.json() == {
        "pseudonym": amira_participant.pseudonym,
        "preferred_language": "ar",
        "status": "enrolled",
        "study": "panel",
    }


def test_fatima_sees_only_her_site(
    fatima: APIClient, amira_participant: Participant, bashir_participant: Participant
) -> None:
    assert fatima.get(f"/api/v1/participants/{amira_participant.pseudonym}/").status_code == 200
    assert fatima.get(f"/api/v1/participants/{bashir_participant.pseudonym}/").status_code == 404
