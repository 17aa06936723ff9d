"""Models of the panel, one module per concern; imported here so Django finds them."""

from participants.models.access import AccessCode, LinkToken, ParticipantToken
from participants.models.audit import AuditEntry
from participants.models.consent import ConsentRecord, ConsentText, Withdrawal
from participants.models.contacts import Channel, ContactProfile, PhoneNumber
from participants.models.register import (
    Cohort,
    GenderCategory,
    Intervention,
    InterventionType,
    Municipality,
    Participant,
    Residence,
    Site,
    StaffAssignment,
    StatusChange,
)
from participants.models.reminders import Reminder, ReminderClaim, ReminderPolicy
from participants.models.responses import Response, StudyKey, Submission
from participants.models.schedules import ParticipantWave, StudyResync
from participants.models.staff import StaffLoginState

__all__ = [
    "AccessCode", "AuditEntry", "Channel", "Cohort", "ConsentRecord", "ConsentText", "ContactProfile",
    "GenderCategory", "Intervention", "InterventionType", "LinkToken", "Municipality", "Participant",
    "ParticipantToken", "PhoneNumber", "Residence", "Site", "StaffAssignment", "StaffLoginState", "StatusChange", "Withdrawal", "Response", "StudyKey", "Submission", "ParticipantWave", "Reminder", "ReminderClaim", "ReminderPolicy", "StudyResync",
]  # fmt: skip
