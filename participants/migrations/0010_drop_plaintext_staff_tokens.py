"""Staff API tokens moved to django-rest-knox (stored as digests): the table of DRF's authtoken app, whose
tokens were stored as they are sent, goes with every token in it (staff sign in again)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("participants", "0009_remove_withdrawal_reason"),
    ]

    operations = [
        migrations.RunSQL("DROP TABLE IF EXISTS authtoken_token", migrations.RunSQL.noop),
    ]
