from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("participants", "0008_withdrawal_reason_encrypted"),
    ]

    operations = [
        migrations.RemoveField(model_name="withdrawal", name="reason"),
    ]
