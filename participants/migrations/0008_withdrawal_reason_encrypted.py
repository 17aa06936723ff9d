"""The free-text reason of a withdrawal (it may name people) is stored encrypted with the server key ring."""

from typing import Any

from django.db import migrations, models


def encrypt_reasons(apps: Any, schema_editor: Any) -> None:
    from participants.keys import associated_data, keyring

    withdrawal_model = apps.get_model("participants", "Withdrawal")
    ring = keyring()
    for withdrawal in withdrawal_model.objects.exclude(reason="").select_related("participant").iterator():
        token = ring.encrypt_text(
            withdrawal.reason.strip()[:500],
            associated_data=associated_data("withdrawal_reason", withdrawal.participant.pseudonym),
        )
        withdrawal_model.objects.filter(pk=withdrawal.pk).update(reason_encrypted=token, reason="")


# The plaintext column goes in the next migration, in a transaction of its own (PostgreSQL refuses to alter a
# table with pending trigger events from the updates above).


class Migration(migrations.Migration):
    dependencies = [
        ("participants", "0007_submission_envelope_digest"),
    ]

    operations = [
        migrations.AddField(
            model_name="withdrawal",
            name="reason_encrypted",
            field=models.TextField(blank=True, default=""),
        ),
        migrations.RunPython(encrypt_reasons, migrations.RunPython.noop),
    ]
