from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from participants.demo.setup import DEMO_KEY_PASSPHRASE, DEMO_PASSWORD, demo_setup


class Command(BaseCommand):
    help = "Load the demo study, demo accounts and demo participants, and print how to use them."

    def handle(self, *args: Any, **options: Any) -> None:
        key_dir = settings.BASE_DIR / "var"
        study, participants = demo_setup(key_dir=key_dir)
        base = "http://127.0.0.1:8000"
        wave = study.waves.order_by("position").first()
        lines = [
            "",
            f"Demo study '{study.slug}' is ready ({study.questionnaires.count()} questionnaire, "
            f"{study.waves.count()} waves, languages: {', '.join(study.languages)}).",
            "",
            f"  API docs (Swagger UI):   {base}/api/docs/",
            f"  OpenAPI schema:          {base}/api/schema/",
            f"  Admin:                   {base}/admin/",
            f"  Health / readiness:      {base}/healthz  {base}/readyz",
            "",
            f"Staff accounts (password for all: {DEMO_PASSWORD}):",
            "  sara   study admin (admin site, audit log)     rita   researcher (authoring, panel)",
            "  fatima field staff, site A (Nairobi)           gustav field staff, site B (Amman)",
            "  Get an API token:  curl -s -X POST " + base + "/api/v1/auth/token/ "
            f"-d username=rita -d password={DEMO_PASSWORD}",
            "",
            "Demo participants (codes are shown only now; run `manage.py demo_setup` again for new ones):",
        ]
        for person in participants:
            lines.append(
                f"  {person.name:7} {person.pseudonym}  access code {person.credentials.access_code}"
            )
        first = participants[0]
        lines += [
            "",
            "The demo questionnaire on a phone, in Arabic:",
            f"  TOKEN=$(curl -s -X POST {base}/api/v1/access/code/ -d code={first.credentials.access_code} "
            "| python3 -c 'import json,sys; print(json.load(sys.stdin)[\"token\"])')",
            f'  curl -s --compressed -H "Authorization: Bearer $TOKEN" {base}/api/v1/me/waves/{wave.key if wave else "pre-departure"}/questionnaire/',
            "",
            f"Completed answers are sealed to the demo study key; its private half is {key_dir / 'demo-study-key.pem'}",
            f"(passphrase '{DEMO_KEY_PASSPHRASE}'). Reminders: `manage.py reminders_tick` sends what is due (console).",
            "",
        ]
        self.stdout.write("\n".join(lines))
