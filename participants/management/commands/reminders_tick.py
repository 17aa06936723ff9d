from typing import Any

from django.core.management.base import BaseCommand

from participants.tasks import reminders_tick, schedules_advance


class Command(BaseCommand):
    help = "Run one dispatch tick now (what Celery beat does every minute): open/close windows, send due reminders."

    def handle(self, *args: Any, **options: Any) -> None:
        changed = schedules_advance()
        claimed = reminders_tick()
        self.stdout.write(f"{changed} schedule rows changed, {claimed} reminders claimed for sending.")
