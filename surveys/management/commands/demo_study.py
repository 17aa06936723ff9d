from typing import Any

from django.contrib.auth.models import User
from django.core.management.base import BaseCommand

from surveys.demo.loader import load_demo_study


class Command(BaseCommand):
    help = "Load the World Values Survey demo study (published, with waves); does nothing if it exists."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--owner", default="sara", help="Username of the study admin (created if missing)."
        )

    def handle(self, *args: Any, owner: str, **options: Any) -> None:
        user, _ = User.objects.get_or_create(username=owner)
        study, created = load_demo_study(by=user)
        verb = "Loaded" if created else "Already present:"
        self.stdout.write(f"{verb} demo study '{study.slug}' ({study.questionnaires.count()} questionnaire).")
