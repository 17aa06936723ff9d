"""Benchmark ``seal``: HPKE seal + open of one completed response, against bare AES-256-GCM.

The plaintext is what participants.responses.services.response_complete seals: the JSON document of a
response with 300 answers (tests/bench/survey_support.py), about 12 KB, padded to whole blocks as the
service does, with the same HPKE context (``response_info``: study, participant, wave, version, response id).

* value: median over many iterations of ``sealing.seal`` + ``sealing.open_sealed`` (DEFAULT_SUITE,
  X25519 + HKDF-SHA256 + AES-256-GCM) of that document, microseconds per response;
* floor: median of AES-256-GCM encryption + decryption (``cryptography``'s AESGCM, key set up once, a
  fresh random nonce per message) of the same bytes: the symmetric work HPKE cannot avoid.

The three operations run interleaved in every iteration, so load from other processes hits them alike.
Extras: the medians of each half, the cost of loading the study key from PEM (response_complete does it
for every completion), and the hybrid post-quantum suite when this installation offers it.
"""

from __future__ import annotations

import gc
import os
import random
import statistics
import time
from collections.abc import Callable

from tests.bench.common import emit, peak_rss_mb, setup_django
from tests.bench.survey_support import answers_for, question_specs, response_document

setup_django()

from cryptography.hazmat.primitives.asymmetric import x25519  # noqa: E402
from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # noqa: E402

from participants.crypto import sealing  # noqa: E402
from participants.responses import services as responses  # noqa: E402

NAME = "seal"
ITERATIONS = 4000
WARMUP = 200
HYBRID_ITERATIONS = 500


def _timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter_ns()
    fn()
    return (time.perf_counter_ns() - start) / 1000


def seal_and_open(
    plaintext: bytes, info: bytes, suite: str, public_key: sealing.PublicKey, private_key: sealing.PrivateKey
) -> tuple[float, float]:
    """Microseconds to seal ``plaintext``, then to open what was sealed."""
    start = time.perf_counter_ns()
    sealed = sealing.seal(plaintext, public_key=public_key, info=info, suite=suite)
    middle = time.perf_counter_ns()
    sealing.open_sealed(sealed, private_key=private_key, info=info, suite=suite)
    end = time.perf_counter_ns()
    return (middle - start) / 1000, (end - middle) / 1000


def run_suite(plaintext: bytes, info: bytes, suite: str, iterations: int) -> tuple[list[float], list[float]]:
    private_key, public_key = sealing.generate_keypair(suite=suite)
    sealed = sealing.seal(plaintext, public_key=public_key, info=info, suite=suite)
    assert sealing.open_sealed(sealed, private_key=private_key, info=info, suite=suite) == plaintext
    seals, opens = [], []
    for _ in range(iterations):
        sealed_time, opened_time = seal_and_open(plaintext, info, suite, public_key, private_key)
        seals.append(sealed_time)
        opens.append(opened_time)
    return seals, opens


def main() -> None:
    document = response_document(answers_for(question_specs(random.Random(20250601)), random.Random(7)))
    # response_complete pads the document to whole blocks before sealing (when this version does).
    padded = getattr(responses, "_padded", None)
    plaintext = padded(document) if padded else document
    info = responses.response_info(study_slug="bench-panel", pseudonym="7K3M-9QXD", wave_key="pre-departure", version_id=42,
                         response_id=123456)  # fmt: skip
    suite = sealing.DEFAULT_SUITE
    private_key, public_key = sealing.generate_keypair(suite=suite)
    pem = sealing.public_key_to_pem(public_key)
    aead = AESGCM(AESGCM.generate_key(bit_length=256))

    def aes_round_trip() -> None:
        nonce = os.urandom(12)
        assert aead.decrypt(nonce, aead.encrypt(nonce, plaintext, None), None) is not None

    sealed_once = sealing.seal(plaintext, public_key=public_key, info=info, suite=suite)
    assert sealing.open_sealed(sealed_once, private_key=private_key, info=info, suite=suite) == plaintext
    overhead_bytes = len(sealed_once) - len(plaintext)

    load_before = os.getloadavg()
    seal_us, open_us, both_us, aes_us, pem_us, dh_us = [], [], [], [], [], []
    ephemeral = x25519.X25519PrivateKey.generate()
    gc.collect()
    for iteration in range(WARMUP + ITERATIONS):
        sealed_time, opened_time = seal_and_open(plaintext, info, suite, public_key, private_key)
        aes_time = _timed(aes_round_trip)
        pem_time = _timed(lambda: sealing.public_key_from_pem(pem, suite=suite))
        dh_time = _timed(lambda: ephemeral.exchange(public_key))
        if iteration >= WARMUP:
            seal_us.append(sealed_time)
            open_us.append(opened_time)
            both_us.append(sealed_time + opened_time)
            aes_us.append(aes_time)
            pem_us.append(pem_time)
            dh_us.append(dh_time)
    load_after = os.getloadavg()

    value = statistics.median(both_us)
    floor = statistics.median(aes_us)
    extra: dict[str, object] = {}
    if sealing.HYBRID_SUITE in sealing.supported_suites():
        hybrid_seals, hybrid_opens = run_suite(plaintext, info, sealing.HYBRID_SUITE, HYBRID_ITERATIONS)
        extra.update(
            hybrid_seal_us=statistics.median(hybrid_seals), hybrid_open_us=statistics.median(hybrid_opens)
        )

    print(
        f"{NAME}: {len(document)} B response document (300 answers; {len(plaintext)} B as sealed), suite {suite}, {ITERATIONS} interleaved "
        f"iterations after {WARMUP} warm-up; load average {load_before[0]:.2f} -> {load_after[0]:.2f}"
    )
    print(
        f"HPKE seal {statistics.median(seal_us):.1f} us + open {statistics.median(open_us):.1f} us "
        f"= {value:.1f} us (p90 {statistics.quantiles(both_us, n=10)[-1]:.1f} us); AES-256-GCM encrypt+decrypt "
        f"{floor:.1f} us; ratio {value / floor:.2f}; sealed overhead {overhead_bytes} B; study key from PEM "
        f"{statistics.median(pem_us):.1f} us; one X25519 key agreement {statistics.median(dh_us):.1f} us (seal does "
        f"two with the ephemeral key generation, open one)"
    )
    if extra:
        print(
            f"hybrid suite {sealing.HYBRID_SUITE}: seal {extra['hybrid_seal_us']:.1f} us, open {extra['hybrid_open_us']:.1f} us"
        )
    emit(
        NAME, "us", round(value, 2), round(floor, 2),
        seal_us=statistics.median(seal_us), open_us=statistics.median(open_us), aes_us=floor,
        bytes=len(plaintext), document_bytes=len(document), sealed_overhead_bytes=overhead_bytes, pem_load_us=statistics.median(pem_us),
        x25519_exchange_us=statistics.median(dh_us),
        iterations=ITERATIONS, suite=suite, **extra,
        loadavg_1m=load_after[0], loadavg=[round(x, 2) for x in load_after], peak_rss_mb=peak_rss_mb(),
    )  # fmt: skip


if __name__ == "__main__":
    main()
