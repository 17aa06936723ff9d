from typing import Any

from django.core.management.base import BaseCommand, CommandError

from participants.models import Participant
from participants.reminders.schedules import schedules_sync
from surveys.models import Study


class Command(BaseCommand):
    help = (
        "Recompute every participant's wave windows and reminders in a study: run it after adding a wave or "
        "changing a wave's timing or reminder policy. Safe to run again; what was sent or answered stays."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("study", help="The study's slug.")

    def handle(self, *args: Any, study: str, **options: Any) -> None:
        found = Study.objects.filter(slug=study).first()
        if found is None:
            raise CommandError(f"No study '{study}'.")
        created = updated = 0
        for participant in (
            Participant.objects.filter(study=found, erased_at=None).only("pk").iterator(chunk_size=500)
        ):
            result = schedules_sync(participant=participant)
            created, updated = created + result.created, updated + result.updated
        self.stdout.write(f"Schedules of '{study}': {created} created, {updated} updated.")
