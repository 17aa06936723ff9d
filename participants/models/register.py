"""The panel's register: sites, cohorts, staff, participants and their history over time."""

from __future__ import annotations

import zoneinfo

import pycountry
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from surveys.models import Study, StudyMembership


def validate_country(code: str) -> None:
    if pycountry.countries.get(alpha_2=code) is None or code != code.upper():
        raise ValidationError(f"'{code}' is not an ISO 3166-1 alpha-2 country code.")


def validate_time_zone(name: str) -> None:
    if name not in zoneinfo.available_timezones():
        raise ValidationError(f"'{name}' is not an IANA time zone.")


class Municipality(models.Model):
    """One of Sweden's municipalities, by its SCB code (reference data, loaded by a migration)."""

    code = models.CharField(max_length=4, primary_key=True)
    name = models.CharField(max_length=100)
    county_code = models.CharField(max_length=2)
    county_name = models.CharField(max_length=100)

    class Meta:
        verbose_name_plural = "municipalities"
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class Site(models.Model):
    """Where field staff enroll people, e.g. a pre-departure orientation in Nairobi."""

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="sites")
    code = models.SlugField(max_length=32)
    name = models.CharField(max_length=200)
    country = models.CharField(max_length=2, validators=[validate_country])
    time_zone = models.CharField(max_length=64, validators=[validate_time_zone])
    staff: models.ManyToManyField = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="StaffAssignment", related_name="sites"
    )

    class Meta:
        ordering = ["study", "code"]
        constraints = [models.UniqueConstraint(fields=["study", "code"], name="unique_site_code")]

    def __str__(self) -> str:
        return f"{self.study.slug}/{self.code}"


class StaffAssignment(models.Model):
    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="assignments")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="site_assignments"
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["site", "user"], name="unique_staff_assignment")]

    def __str__(self) -> str:
        return f"{self.user} at {self.site}"

    def clean(self) -> None:
        # Researchers see answers, so never contact details: the selectors ignore such an assignment anyway.
        if self.user_id is None or self.site_id is None:
            return
        researcher = StudyMembership.objects.filter(
            study_id=self.site.study_id, user_id=self.user_id, role=StudyMembership.Role.RESEARCHER
        )
        if researcher.exists():
            raise ValidationError(
                {"user": "A researcher of this study cannot be field staff: they would see contact details."}
            )


class Cohort(models.Model):
    """People who travel together."""

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="cohorts")
    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="cohorts")
    code = models.SlugField(max_length=32)
    planned_departure_on = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["study", "code"]
        constraints = [models.UniqueConstraint(fields=["study", "code"], name="unique_cohort_code")]

    def __str__(self) -> str:
        return self.code


class GenderCategory(models.Model):
    """Gender as the study defines it: its own list of codes and labels."""

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="gender_categories")
    code = models.SlugField(max_length=32)
    label = models.CharField(max_length=100)

    class Meta:
        verbose_name_plural = "gender categories"
        constraints = [models.UniqueConstraint(fields=["study", "code"], name="unique_gender_code")]

    def __str__(self) -> str:
        return self.label


class InterventionType(models.Model):
    """A kind of integration support the study tracks, e.g. Swedish for immigrants (SFI)."""

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="intervention_types")
    code = models.SlugField(max_length=32)
    label = models.CharField(max_length=200)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["study", "code"], name="unique_intervention_code")]

    def __str__(self) -> str:
        return self.label


class Participant(models.Model):
    """A member of the panel, known by a random pseudonym that carries no personal data."""

    class Status(models.TextChoices):
        ENROLLED = "enrolled", "Enrolled"
        ACTIVE = "active", "Active"
        WITHDRAWN = "withdrawn", "Withdrawn"
        COMPLETED = "completed", "Completed"
        LOST = "lost", "Lost to follow-up"

    pseudonym = models.CharField(max_length=9, unique=True, editable=False)
    study = models.ForeignKey(Study, on_delete=models.PROTECT, related_name="participants")
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="participants")
    cohort = models.ForeignKey(
        Cohort, null=True, blank=True, on_delete=models.SET_NULL, related_name="participants"
    )
    preferred_language = models.CharField(max_length=8)
    country_of_origin = models.CharField(max_length=2, validators=[validate_country])
    country_of_departure = models.CharField(max_length=2, validators=[validate_country])
    birth_year = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(1900), MaxValueValidator(2100)]
    )
    gender = models.ForeignKey(
        GenderCategory, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    enrolled_on = models.DateField()
    planned_departure_on = models.DateField(null=True, blank=True)
    arrived_on = models.DateField(null=True, blank=True, help_text="Actual arrival date in Sweden.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ENROLLED)
    # Set when the participant asked to stop all contact; reminders and messages check it.
    contact_stopped_at = models.DateTimeField(null=True, blank=True)
    erased_at = models.DateTimeField(null=True, blank=True)
    # A client-generated id of the enrollment request, so a retried enrollment creates nobody twice.
    enrollment_request_id = models.UUIDField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["study", "pseudonym"]
        constraints = [
            models.UniqueConstraint(
                fields=["study", "enrollment_request_id"], name="unique_enrollment_request"
            ),
        ]
        indexes = [models.Index(fields=["site", "status"])]

    def __str__(self) -> str:
        return self.pseudonym

    @property
    def may_be_contacted(self) -> bool:
        return self.contact_stopped_at is None and self.erased_at is None


class StatusChange(models.Model):
    participant = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="status_history")
    status = models.CharField(max_length=16, choices=Participant.Status.choices)
    changed_at = models.DateTimeField()
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.CharField(max_length=200, blank=True, default="")

    class Meta:
        ordering = ["participant", "changed_at", "pk"]

    def __str__(self) -> str:
        return f"{self.participant_id} {self.status} at {self.changed_at}"


class Residence(models.Model):
    """Where the participant lives in Sweden from ``moved_in_on``; the newest earlier row applies at a date."""

    participant = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="residences")
    municipality = models.ForeignKey(Municipality, on_delete=models.PROTECT, related_name="+")
    moved_in_on = models.DateField()
    recorded_at = models.DateTimeField(auto_now_add=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["participant", "moved_in_on"]
        constraints = [
            models.UniqueConstraint(fields=["participant", "moved_in_on"], name="one_residence_per_day"),
        ]

    def __str__(self) -> str:
        return f"{self.participant_id} in {self.municipality_id} from {self.moved_in_on}"


class Intervention(models.Model):
    class Source(models.TextChoices):
        STAFF = "staff", "Recorded by staff"
        PARTICIPANT = "participant", "Reported by the participant"

    participant = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="interventions")
    type = models.ForeignKey(InterventionType, on_delete=models.PROTECT, related_name="+")
    started_on = models.DateField()
    ended_on = models.DateField(null=True, blank=True)
    source = models.CharField(max_length=16, choices=Source.choices)
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["participant", "started_on"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ended_on__isnull=True) | Q(ended_on__gte=models.F("started_on")),
                name="intervention_ends_after_start",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.participant_id} {self.type_id} from {self.started_on}"
