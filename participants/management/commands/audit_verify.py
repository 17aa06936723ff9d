from typing import Any

from django.core.management.base import BaseCommand, CommandError

from participants.audit import audit_verify


class Command(BaseCommand):
    help = "Verify the audit log's hash chain; names the first broken entry and exits 1 if there is one."

    def handle(self, *args: Any, **options: Any) -> None:
        report = audit_verify()
        if not report.intact:
            raise CommandError(
                f"Audit chain broken at entry #{report.first_broken_id}: {report.reason} "
                f"({report.entries_checked} entries checked)."
            )
        self.stdout.write(f"Audit chain intact: {report.entries_checked} entries checked.")
