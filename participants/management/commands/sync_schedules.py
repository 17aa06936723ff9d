from typing import Any

from django.core.management.base import BaseCommand, CommandError

from participants.reminders.schedules import (
    SyncResult,
    schedules_sync_study,
    study_resync_done,
    study_resync_pending,
)
from surveys.models import Study


class Command(BaseCommand):
    help = (
        "Recompute every participant's wave windows and reminders in a study. Adding a wave or changing its "
        "timing or reminder policy queues this already; run it by hand if that task was lost (no broker). "
        "Safe to run again; what was sent or answered stays."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("study", help="The study's slug.")

    def handle(self, *args: Any, study: str, **options: Any) -> None:
        found = Study.objects.filter(slug=study).first()
        if found is None:
            raise CommandError(f"No study '{study}'.")
        requested_at = study_resync_pending(found.pk)
        total = SyncResult(0, 0, 0)
        after: int | None = 0
        while after is not None:
            result, after = schedules_sync_study(study_id=found.pk, after_id=after)
            total += result
        if requested_at is not None:
            study_resync_done(found.pk, requested_at)
        self.stdout.write(
            f"Schedules of '{study}': {total.created} created, {total.updated} updated, {total.removed} removed."
        )
