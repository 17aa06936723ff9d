"""Reference data (Sweden's municipalities, from participants/data/) and the role groups."""

import csv
from pathlib import Path

from django.db import migrations

DATA = Path(__file__).resolve().parent.parent / "data"

# Model permissions of each role's group; what they may see is further scoped by study and site.
ROLE_PERMISSIONS = {
    "Study admin": [
        "surveys.view_study", "surveys.change_study", "surveys.view_studymembership", "surveys.add_studymembership",
        "surveys.change_studymembership", "surveys.delete_studymembership", "participants.view_site",
        "participants.add_site", "participants.change_site", "participants.view_staffassignment",
        "participants.add_staffassignment", "participants.delete_staffassignment", "participants.view_cohort",
        "participants.add_cohort", "participants.change_cohort", "participants.view_consenttext",
        "participants.add_consenttext", "participants.change_consenttext", "participants.view_auditentry",
        "participants.view_interventiontype", "participants.add_interventiontype",
        "participants.view_gendercategory", "participants.add_gendercategory",
    ],
    "Researcher": [
        "surveys.view_study", "surveys.view_questionnaire", "surveys.add_questionnaire",
        "surveys.change_questionnaire", "surveys.view_questionnaireversion", "surveys.change_questionnaireversion",
        "surveys.view_section", "surveys.add_section", "surveys.change_section", "surveys.delete_section",
        "surveys.view_question", "surveys.add_question", "surveys.change_question", "surveys.delete_question",
        "surveys.view_choice", "surveys.add_choice", "surveys.change_choice", "surveys.delete_choice",
        "surveys.view_wave", "surveys.add_wave", "surveys.change_wave", "participants.view_consenttext",
        "participants.change_consenttext",
    ],
    "Field staff": [
        "participants.view_participant", "participants.view_site", "participants.view_cohort",
    ],
}  # fmt: skip


def load_municipalities(apps, schema_editor):
    Municipality = apps.get_model("participants", "Municipality")
    with (DATA / "counties.csv").open(encoding="utf-8") as handle:
        counties = {row["county_code"]: row["county_name"] for row in csv.DictReader(handle)}
    with (DATA / "municipalities.csv").open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            Municipality.objects.update_or_create(
                code=row["municipality_code"],
                defaults={
                    "name": row["municipality_name_short"],
                    "county_code": row["county_code"],
                    "county_name": counties[row["county_code"]],
                },
            )


def create_role_groups(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, permissions in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=name)
        for dotted in permissions:
            app_label, codename = dotted.split(".")
            group.permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))


class Migration(migrations.Migration):
    dependencies = [
        ("participants", "0001_initial"),
        ("surveys", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.RunPython(load_municipalities, migrations.RunPython.noop),
        migrations.RunPython(create_role_groups, migrations.RunPython.noop),
    ]
