"""Opening sealed responses with the research team's private key (on their own machine, or in tests)."""

from __future__ import annotations

import json
from typing import Any

from participants.crypto import sealing
from participants.models import Response
from participants.responses.services import response_info


def open_response(response: Response, *, private_key: sealing.PrivateKey) -> dict[str, Any]:
    """The sealed document, after checking it belongs to exactly this row's participant, wave and version.

    Raises sealing.SealingError when the key is wrong, the bytes were changed, or the row's metadata
    (participant, wave, version, id) is not what was sealed: e.g. a response moved to another participant.
    """
    if response.sealed_payload is None:
        raise sealing.SealingError("This response is not sealed (not completed).")
    info = response_info(
        study_slug=response.participant.study.slug,
        pseudonym=response.participant.pseudonym,
        wave_key=response.wave.key,
        version_id=response.version_id,
        response_id=response.pk,
    )
    plaintext = sealing.open_sealed(
        bytes(response.sealed_payload), private_key=private_key, info=info, suite=response.suite
    )
    document: dict[str, Any] = json.loads(plaintext)
    return document
