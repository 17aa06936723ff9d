from django.test import Client


def test_the_participant_client_is_served_without_caching_and_without_referrer(db: None) -> None:
    response = Client().get("/p/")
    assert response.status_code == 200
    page = response.content.decode()
    assert '<meta name="referrer" content="no-referrer">' in page
    assert "/access/link/" in page
    assert "submission_id" in page
    assert "no-cache" in response["Cache-Control"]
