"""Demo accounts, sites and participants around the demo study, for `make run`.

The personas are the ones the tests use: study admin sara, researcher rita, field staff fatima (site A,
Nairobi) and gustav (site B, Amman), participants amira and bashir.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from pathlib import Path

from django.contrib.auth.models import Group, User
from django.db import transaction
from django.utils import timezone

from participants.crypto import sealing
from participants.models import (
    ConsentRecord,
    ConsentText,
    GenderCategory,
    InterventionType,
    Participant,
    Site,
    StudyKey,
)
from participants.responses.services import study_key_register
from participants.services import access, register
from surveys.demo.loader import load_demo_study
from surveys.models import Study, StudyMembership

DEMO_PASSWORD = "demo-panel-2026"  # noqa: S105 - printed on purpose: demo accounts on a local SQLite database

CONSENT = {
    "title": {
        "en": "Consent to take part", "sv": "Samtycke till deltagande", "ar": "الموافقة على المشاركة",
        "fa": "رضایت برای شرکت", "ti": "ፍቓድ ንምስታፍ", "so": "Oggolaansho ka qaybgal",
    },
    "body": {
        "en": "You will be asked about your values and your life in Sweden a few times over two years. "
        "Taking part is voluntary; you can stop at any time.",
        "sv": "Du kommer att få frågor om dina värderingar och ditt liv i Sverige några gånger under två år. "
        "Deltagandet är frivilligt; du kan sluta när du vill.",
        "ar": "سنسألك عن قيمك وحياتك في السويد بضع مرات خلال عامين. المشاركة طوعية ويمكنك التوقف في أي وقت.",
        "fa": "در طول دو سال چند بار درباره ارزش‌ها و زندگی‌تان در سوئد از شما سؤال می‌شود. شرکت داوطلبانه است و هر زمان می‌توانید کنار بکشید.",
        "ti": "ኣብ ክልተ ዓመት ብዛዕባ ክብርታትኩምን ህይወትኩም ኣብ ሽወደንን ሒደት ግዜ ክንሓተኩም ኢና። ምስታፍ ብፍቓድኩም እዩ፤ ኣብ ዝኾነ ግዜ ከተቋርጹ ትኽእሉ።",
        "so": "Laba sano gudahood dhowr jeer ayaa lagu weydiin doonaa qiyamkaaga iyo noloshaada Iswiidhan. "
        "Ka qaybgalku waa ikhtiyaari; waad joojin kartaa wakhti kasta.",
    },
}  # fmt: skip


@dataclass(frozen=True)
class DemoParticipant:
    name: str
    pseudonym: str
    credentials: access.Credentials


def _account(username: str, *, group: str, staff: bool = False) -> User:
    user, created = User.objects.get_or_create(username=username, defaults={"is_staff": staff})
    if created or not user.has_usable_password():
        user.set_password(DEMO_PASSWORD)
        user.is_staff = staff
        user.save()
    user.groups.add(Group.objects.get(name=group))
    return user


def _consent_text(study: Study) -> ConsentText:
    text = ConsentText.objects.filter(study=study, version=1).first()
    if text is None:
        text = ConsentText(study=study, version=1)
        for field_name, texts in CONSENT.items():
            for language, value in texts.items():
                setattr(text, f"{field_name}_{language}", value)
        text.save()
    return text


DEMO_KEY_PASSPHRASE = "demo-study-key-passphrase"  # noqa: S105 - the demo key protects demo answers only


def _demo_key(study: Study, by: User, key_dir: Path) -> Path:
    """The demo's research key: in a real study it is made on a researcher's machine (study_keygen)."""
    private_path = key_dir / "demo-study-key.pem"
    if StudyKey.objects.filter(study=study, retired_at=None).exists() and private_path.exists():
        return private_path
    private_key, public_key = sealing.generate_keypair()
    key_dir.mkdir(parents=True, exist_ok=True)
    private_path.write_bytes(
        sealing.private_key_to_encrypted_pem(private_key, passphrase=DEMO_KEY_PASSPHRASE.encode())
    )
    private_path.chmod(0o600)
    StudyKey.objects.filter(study=study, retired_at=None).update(retired_at=timezone.now())
    study_key_register(
        study=study, public_key_pem=sealing.public_key_to_pem(public_key), suite=sealing.DEFAULT_SUITE,
        label="demo key", by=by,
    )  # fmt: skip
    return private_path


@transaction.atomic
def demo_setup(*, key_dir: Path) -> tuple[Study, list[DemoParticipant]]:
    sara = _account("sara", group="Study admin", staff=True)
    study, _ = load_demo_study(by=sara)
    rita = _account("rita", group="Researcher", staff=True)
    StudyMembership.objects.get_or_create(study=study, user=sara, role=StudyMembership.Role.ADMIN)
    StudyMembership.objects.get_or_create(study=study, user=rita, role=StudyMembership.Role.RESEARCHER)
    site_a, _ = Site.objects.get_or_create(
        study=study,
        code="site-a",
        defaults={
            "name": "Pre-departure orientation, Nairobi",
            "country": "KE",
            "time_zone": "Africa/Nairobi",
        },
    )
    site_b, _ = Site.objects.get_or_create(
        study=study,
        code="site-b",
        defaults={"name": "Pre-departure orientation, Amman", "country": "JO", "time_zone": "Asia/Amman"},
    )
    fatima = _account("fatima", group="Field staff")
    gustav = _account("gustav", group="Field staff")
    site_a.assignments.get_or_create(user=fatima)
    site_b.assignments.get_or_create(user=gustav)
    for code, label in (("woman", "Woman"), ("man", "Man"), ("other", "Other / prefer to self-describe")):
        GenderCategory.objects.get_or_create(study=study, code=code, defaults={"label": label})
    for code, label in (("civic-orientation", "Civic orientation"), ("sfi", "Swedish for immigrants (SFI)"),
                        ("introduction", "Introduction programme"), ("mentoring", "Mentoring")):  # fmt: skip
        InterventionType.objects.get_or_create(study=study, code=code, defaults={"label": label})
    consent = _consent_text(study)
    _demo_key(study, sara, key_dir)
    people = [
        ("amira", site_a, fatima, "ar", "SY", "KE", 1994, "woman", "+46701234501"),
        ("bashir", site_b, gustav, "fa", "AF", "JO", 1988, "man", "+46701234502"),
    ]
    demo: list[DemoParticipant] = []
    today = timezone.localdate()
    for name, site, staff, language, origin, departure, born, gender, phone in people:
        participant = Participant.objects.filter(
            study=study, site=site, birth_year=born, country_of_origin=origin
        ).first()
        if participant is None:
            result = register.participant_enroll(
                site=site, by=staff, preferred_language=language, country_of_origin=origin,
                country_of_departure=departure, birth_year=born, gender=gender,
                enrolled_on=today - datetime.timedelta(days=30),
                planned_departure_on=today + datetime.timedelta(days=30),
                name=name.capitalize(), phone=phone,
                consent=register.ConsentInput(consent_text=consent, language=language,
                                              method=ConsentRecord.Method.READ_ALOUD, witnessed_by=staff),
            )  # fmt: skip
            participant = result.participant
        # Codes are stored only as hashes, so each run issues fresh ones to print.
        credentials = access.credentials_issue(participant=participant, by=staff, reissue=True)
        demo.append(DemoParticipant(name=name, pseudonym=participant.pseudonym, credentials=credentials))
    return study, demo
