from typing import Any

from django.core.management.base import BaseCommand

from participants.keys import keyring
from participants.services.contacts import contacts_rotate_keys


class Command(BaseCommand):
    help = (
        "Re-encrypt all contact details, withdrawal reasons and unfinished response drafts under the newest key of "
        "FIELD_ENCRYPTION_KEYS (the first one). Safe to run again; run it after adding a new key, before "
        "removing an old one."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        counts = contacts_rotate_keys()
        summary = ", ".join(f"{count} {column}" for column, count in counts.items())
        self.stdout.write(f"Re-encrypted under key '{keyring().primary_id}': {summary}.")
