"""Reads of the instrument, and permission-checked fetches (``get_<thing>_for(user, id)``)."""

from __future__ import annotations

from typing import Any, TypeVar

from django.contrib.auth.models import AnonymousUser
from django.contrib.auth.models import User as AuthUser
from django.db.models import Model, QuerySet

from backend.errors import NotFound
from surveys.models import (
    Choice,
    Question,
    Questionnaire,
    QuestionnaireVersion,
    Section,
    Study,
    StudyMembership,
    Wave,
)

AUTHORS = frozenset({StudyMembership.Role.ADMIN, StudyMembership.Role.RESEARCHER})
ADMINS = frozenset({StudyMembership.Role.ADMIN})

M = TypeVar("M", bound=Model)
User = AuthUser | AnonymousUser


def studies_for(user: User, *, roles: frozenset[str] = AUTHORS) -> QuerySet[Study]:
    # Participants authenticate without a Django user (pk None): they author nothing.
    if not user.is_authenticated or getattr(user, "pk", None) is None:
        return Study.objects.none()
    if getattr(user, "is_superuser", False):
        return Study.objects.all()
    return Study.objects.filter(memberships__user=user, memberships__role__in=roles).distinct()


def can_create_studies(user: User) -> bool:
    return bool(user.is_authenticated and getattr(user, "has_perm", lambda _: False)("surveys.add_study"))


def _get_for(
    user: User, queryset: QuerySet[M], pk: Any, *, study_path: str, roles: frozenset[str], what: str
) -> M:
    allowed = studies_for(user, roles=roles)
    try:
        return queryset.get(pk=pk, **{f"{study_path}__in": allowed})
    except (queryset.model.DoesNotExist, ValueError, TypeError):  # type: ignore[attr-defined]
        # Same answer for "does not exist" and "not yours": existence is not disclosed.
        raise NotFound(f"No {what} with id {pk} that you may access.") from None


def get_study_for(user: User, pk: Any, *, roles: frozenset[str] = AUTHORS) -> Study:
    return _get_for(user, Study.objects.all(), pk, study_path="pk", roles=roles, what="study")


def get_questionnaire_for(user: User, pk: Any, *, roles: frozenset[str] = AUTHORS) -> Questionnaire:
    queryset = Questionnaire.objects.select_related("study")
    return _get_for(user, queryset, pk, study_path="study", roles=roles, what="questionnaire")


def get_version_for(user: User, pk: Any, *, roles: frozenset[str] = AUTHORS) -> QuestionnaireVersion:
    queryset = QuestionnaireVersion.objects.select_related("questionnaire__study")
    return _get_for(user, queryset, pk, study_path="questionnaire__study", roles=roles, what="version")


def get_section_for(user: User, pk: Any, *, roles: frozenset[str] = AUTHORS) -> Section:
    queryset = Section.objects.select_related("version__questionnaire__study")
    return _get_for(
        user, queryset, pk, study_path="version__questionnaire__study", roles=roles, what="section"
    )


def get_question_for(user: User, pk: Any, *, roles: frozenset[str] = AUTHORS) -> Question:
    queryset = Question.objects.select_related("version__questionnaire__study", "section")
    return _get_for(
        user, queryset, pk, study_path="version__questionnaire__study", roles=roles, what="question"
    )


def get_choice_for(user: User, pk: Any, *, roles: frozenset[str] = AUTHORS) -> Choice:
    queryset = Choice.objects.select_related("question__version__questionnaire__study")
    path = "question__version__questionnaire__study"
    return _get_for(user, queryset, pk, study_path=path, roles=roles, what="choice")


def get_wave_for(user: User, pk: Any, *, roles: frozenset[str] = AUTHORS) -> Wave:
    queryset = Wave.objects.select_related("study", "questionnaire_version__questionnaire")
    return _get_for(user, queryset, pk, study_path="study", roles=roles, what="wave")


def version_tree(version: QuestionnaireVersion) -> list[Section]:
    """Sections with their questions and choices prefetched, in questionnaire order.

    Every text asks its owning study for its languages (question.version.questionnaire.study): each row is
    pointed at the one ``version`` object given, rather than joining the study into every row.
    """
    from django.db.models import Prefetch

    questions = Question.objects.order_by("position").prefetch_related(
        Prefetch("choices", queryset=Choice.objects.order_by("position"))
    )
    sections = list(
        version.sections.order_by("position").prefetch_related(Prefetch("questions", queryset=questions))
    )
    for section in sections:
        section.version = version
        for question in section.questions.all():
            question.version = version
    return sections
