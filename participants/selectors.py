"""Reads of the panel and permission-checked fetches; who may see whom is decided here."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from backend.errors import NotFound
from participants.models import Participant, Site
from surveys.models import Study, StudyMembership
from surveys.selectors import ADMINS, studies_for


def sites_for_staff(user: Any) -> QuerySet[Site]:
    """Sites whose participants this user may enroll and contact: only the sites they are assigned to.

    Nobody else sees contact details: not researchers, not study admins, not superusers. A researcher of the
    site's study gets nothing from an assignment either: they see answers, so never names or numbers,
    whoever assigned them.
    """
    if not getattr(user, "is_authenticated", False) or getattr(user, "pk", None) is None:
        return Site.objects.none()
    researching = StudyMembership.objects.filter(user=user, role=StudyMembership.Role.RESEARCHER)
    return Site.objects.filter(assignments__user=user).exclude(study__in=researching.values("study"))


def get_site_for(user: Any, pk: Any) -> Site:
    try:
        return sites_for_staff(user).select_related("study").get(pk=pk)
    except (Site.DoesNotExist, ValueError, TypeError):
        raise NotFound(f"No site with id {pk} that you work at.") from None


def participants_for_staff(user: Any) -> QuerySet[Participant]:
    return Participant.objects.filter(site__in=sites_for_staff(user))


def get_participant_for_staff(user: Any, pseudonym: str) -> Participant:
    found = (
        participants_for_staff(user)
        .select_related("study", "site", "cohort")
        .filter(pseudonym=pseudonym)
        .first()
    )
    if found is None:
        raise NotFound(f"No participant {pseudonym[:12]} at a site you work at.")
    return found


def get_study_for_admin(user: Any, pk: Any) -> Study:
    from surveys.selectors import get_study_for

    return get_study_for(user, pk, roles=ADMINS)


def panel_for_researcher(user: Any, study_id: Any) -> QuerySet[Participant]:
    from surveys.selectors import get_study_for

    study = get_study_for(user, study_id)
    return (
        Participant.objects.filter(study=study)
        .select_related("site", "cohort", "gender")
        .prefetch_related("residences__municipality", "interventions__type")
        .order_by("pseudonym")
    )


__all__ = ["studies_for"]
