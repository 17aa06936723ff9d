"""Authoring API for study admins and researchers, and the questionnaire preview.

Each view validates its input with a serializer, fetches what it acts on with a permission-checked
selector, calls one service, and renders the result.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.api import validated
from backend.errors import DomainError, NotFound
from surveys import selectors, services
from surveys.payload import questionnaire_response
from surveys.serializers import (
    ChoiceInput,
    ChoiceOutput,
    ChoiceUpdateInput,
    CoverageOutput,
    ProblemOutput,
    QuestionInput,
    QuestionnaireInput,
    QuestionnaireOutput,
    QuestionOutput,
    QuestionUpdateInput,
    ReviewInput,
    SectionInput,
    SectionOutput,
    SectionUpdateInput,
    StudyInput,
    StudyOutput,
    StudyUpdateInput,
    VersionOutput,
    VersionSummary,
    WaveInput,
    WaveOutput,
    WaveUpdateInput,
)

ERRORS = {
    400: OpenApiResponse(ProblemOutput, description="Invalid input; says which field and why."),
    404: OpenApiResponse(ProblemOutput, description="Not found, or not yours to see."),
    409: OpenApiResponse(
        ProblemOutput, description="Conflicts with the current state (e.g. version frozen)."
    ),
}
LANG_PARAMETER = OpenApiParameter(
    "lang", str, description="Language code; otherwise Accept-Language decides. Falls back along the chain."
)
QUESTIONNAIRE_RESPONSES = {
    200: OpenApiResponse(
        description="The questionnaire in one language (compact JSON, gzip when accepted; strong ETag)."
    ),
    304: OpenApiResponse(description="Not modified: the If-None-Match ETag is current."),
    404: ERRORS[404],
}


def _wave_input(request: Request, serializer_class: type, *, study_id: int) -> dict[str, Any]:
    """Wave input with its version resolved among those the caller may see (others look missing)."""
    data = validated(serializer_class, request.data)
    version_id = data.get("questionnaire_version")
    if version_id is not None:
        try:
            data["questionnaire_version"] = selectors.get_version_for(request.user, version_id)
        except NotFound:
            raise DomainError(
                f"No questionnaire version {version_id} that you may use.", field="questionnaire_version"
            ) from None
    return data


class StudyListApi(APIView):
    @extend_schema(responses=StudyOutput(many=True), tags=["authoring"])
    def get(self, request: Request) -> Response:
        return Response(StudyOutput(selectors.studies_for(request.user), many=True).data)

    @extend_schema(request=StudyInput, responses={201: StudyOutput, **ERRORS}, tags=["authoring"])
    def post(self, request: Request) -> Response:
        if not selectors.can_create_studies(request.user):
            raise PermissionDenied("Only users allowed to create studies may do this.")
        data = validated(StudyInput, request.data)
        study = services.study_create(**data, by=request.user)  # type: ignore[arg-type]
        return Response(StudyOutput(study).data, status=status.HTTP_201_CREATED)


class StudyDetailApi(APIView):
    @extend_schema(responses={200: StudyOutput, **ERRORS}, tags=["authoring"])
    def get(self, request: Request, study_id: int) -> Response:
        return Response(StudyOutput(selectors.get_study_for(request.user, study_id)).data)

    @extend_schema(request=StudyUpdateInput, responses={200: StudyOutput, **ERRORS}, tags=["authoring"])
    def patch(self, request: Request, study_id: int) -> Response:
        study = selectors.get_study_for(request.user, study_id, roles=selectors.ADMINS)
        study = services.study_update(study=study, **validated(StudyUpdateInput, request.data))
        return Response(StudyOutput(study).data)


class QuestionnaireListApi(APIView):
    @extend_schema(responses={200: QuestionnaireOutput(many=True), **ERRORS}, tags=["authoring"])
    def get(self, request: Request, study_id: int) -> Response:
        study = selectors.get_study_for(request.user, study_id)
        return Response(
            QuestionnaireOutput(study.questionnaires.prefetch_related("versions"), many=True).data
        )

    @extend_schema(
        request=QuestionnaireInput, responses={201: QuestionnaireOutput, **ERRORS}, tags=["authoring"]
    )
    def post(self, request: Request, study_id: int) -> Response:
        study = selectors.get_study_for(request.user, study_id)
        questionnaire = services.questionnaire_create(
            study=study, **validated(QuestionnaireInput, request.data)
        )
        return Response(QuestionnaireOutput(questionnaire).data, status=status.HTTP_201_CREATED)


class QuestionnaireDetailApi(APIView):
    @extend_schema(responses={200: QuestionnaireOutput, **ERRORS}, tags=["authoring"])
    def get(self, request: Request, questionnaire_id: int) -> Response:
        return Response(
            QuestionnaireOutput(selectors.get_questionnaire_for(request.user, questionnaire_id)).data
        )


class QuestionnaireDraftApi(APIView):
    @extend_schema(request=None, responses={201: VersionSummary, **ERRORS}, tags=["authoring"])
    def post(self, request: Request, questionnaire_id: int) -> Response:
        """Start a new draft version, copied from the latest version."""
        questionnaire = selectors.get_questionnaire_for(request.user, questionnaire_id)
        draft = services.version_new_draft(questionnaire=questionnaire)
        return Response(VersionSummary(draft).data, status=status.HTTP_201_CREATED)


class VersionDetailApi(APIView):
    @extend_schema(responses={200: VersionOutput, **ERRORS}, tags=["authoring"])
    def get(self, request: Request, version_id: int) -> Response:
        """The whole version in every study language, with translations needing review flagged."""
        return Response(VersionOutput(selectors.get_version_for(request.user, version_id)).data)


class VersionPublishApi(APIView):
    @extend_schema(request=None, responses={200: VersionSummary, **ERRORS}, tags=["authoring"])
    def post(self, request: Request, version_id: int) -> Response:
        """Freeze the version. Refused while any text is missing in a study language (listed in details)."""
        version = selectors.get_version_for(request.user, version_id)
        version = services.version_publish(version=version, by=request.user)  # type: ignore[arg-type]
        return Response(VersionSummary(version).data)


class VersionCoverageApi(APIView):
    @extend_schema(responses={200: CoverageOutput(many=True), **ERRORS}, tags=["translations"])
    def get(self, request: Request, version_id: int) -> Response:
        """Per language: translated / total texts, and which are missing or need review."""
        version = selectors.get_version_for(request.user, version_id)
        return Response(CoverageOutput(services.version_coverage(version), many=True).data)


class VersionPreviewApi(APIView):
    @extend_schema(parameters=[LANG_PARAMETER], responses=QUESTIONNAIRE_RESPONSES, tags=["authoring"])
    def get(self, request: Request, version_id: int) -> HttpResponse:
        """The version exactly as a phone receives it (drafts included)."""
        return questionnaire_response(request, selectors.get_version_for(request.user, version_id))


class SectionCreateApi(APIView):
    @extend_schema(request=SectionInput, responses={201: SectionOutput, **ERRORS}, tags=["authoring"])
    def post(self, request: Request, version_id: int) -> Response:
        version = selectors.get_version_for(request.user, version_id)
        section = services.section_create(version=version, **validated(SectionInput, request.data))
        return Response(SectionOutput(section).data, status=status.HTTP_201_CREATED)


class SectionDetailApi(APIView):
    @extend_schema(request=SectionUpdateInput, responses={200: SectionOutput, **ERRORS}, tags=["authoring"])
    def patch(self, request: Request, section_id: int) -> Response:
        section = selectors.get_section_for(request.user, section_id)
        section = services.section_update(section=section, **validated(SectionUpdateInput, request.data))
        return Response(SectionOutput(section).data)

    @extend_schema(responses={204: None, **ERRORS}, tags=["authoring"])
    def delete(self, request: Request, section_id: int) -> Response:
        services.section_delete(section=selectors.get_section_for(request.user, section_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class QuestionCreateApi(APIView):
    @extend_schema(request=QuestionInput, responses={201: QuestionOutput, **ERRORS}, tags=["authoring"])
    def post(self, request: Request, section_id: int) -> Response:
        section = selectors.get_section_for(request.user, section_id)
        question = services.question_create(section=section, **validated(QuestionInput, request.data))
        return Response(QuestionOutput(question).data, status=status.HTTP_201_CREATED)


class QuestionDetailApi(APIView):
    @extend_schema(responses={200: QuestionOutput, **ERRORS}, tags=["authoring"])
    def get(self, request: Request, question_id: int) -> Response:
        return Response(QuestionOutput(selectors.get_question_for(request.user, question_id)).data)

    @extend_schema(request=QuestionUpdateInput, responses={200: QuestionOutput, **ERRORS}, tags=["authoring"])
    def patch(self, request: Request, question_id: int) -> Response:
        question = selectors.get_question_for(request.user, question_id)
        question = services.question_update(question=question, **validated(QuestionUpdateInput, request.data))
        return Response(QuestionOutput(question).data)

    @extend_schema(responses={204: None, **ERRORS}, tags=["authoring"])
    def delete(self, request: Request, question_id: int) -> Response:
        services.question_delete(question=selectors.get_question_for(request.user, question_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class ChoiceCreateApi(APIView):
    @extend_schema(request=ChoiceInput, responses={201: ChoiceOutput, **ERRORS}, tags=["authoring"])
    def post(self, request: Request, question_id: int) -> Response:
        question = selectors.get_question_for(request.user, question_id)
        choice = services.choice_create(question=question, **validated(ChoiceInput, request.data))
        return Response(ChoiceOutput(choice).data, status=status.HTTP_201_CREATED)


class ChoiceDetailApi(APIView):
    @extend_schema(request=ChoiceUpdateInput, responses={200: ChoiceOutput, **ERRORS}, tags=["authoring"])
    def patch(self, request: Request, choice_id: int) -> Response:
        choice = selectors.get_choice_for(request.user, choice_id)
        choice = services.choice_update(choice=choice, **validated(ChoiceUpdateInput, request.data))
        return Response(ChoiceOutput(choice).data)

    @extend_schema(responses={204: None, **ERRORS}, tags=["authoring"])
    def delete(self, request: Request, choice_id: int) -> Response:
        services.choice_delete(choice=selectors.get_choice_for(request.user, choice_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class TranslationReviewApi(APIView):
    @extend_schema(request=ReviewInput, responses={204: None, **ERRORS}, tags=["translations"])
    def post(self, request: Request) -> Response:
        """Confirm translations are still right after their source text changed (clears "stale")."""
        data = validated(ReviewInput, request.data)
        fetch = {
            "study": selectors.get_study_for,
            "questionnaire": selectors.get_questionnaire_for,
            "section": selectors.get_section_for,
            "question": selectors.get_question_for,
            "choice": selectors.get_choice_for,
            "wave": selectors.get_wave_for,
        }[data["kind"]]
        instance = fetch(request.user, data["id"])
        services.texts_mark_reviewed(instance=instance, field_name=data["field"], languages=data["languages"])
        return Response(status=status.HTTP_204_NO_CONTENT)


class WaveListApi(APIView):
    @extend_schema(responses={200: WaveOutput(many=True), **ERRORS}, tags=["authoring"])
    def get(self, request: Request, study_id: int) -> Response:
        study = selectors.get_study_for(request.user, study_id)
        return Response(WaveOutput(study.waves.all(), many=True).data)

    @extend_schema(request=WaveInput, responses={201: WaveOutput, **ERRORS}, tags=["authoring"])
    def post(self, request: Request, study_id: int) -> Response:
        study = selectors.get_study_for(request.user, study_id)
        wave = services.wave_create(study=study, **_wave_input(request, WaveInput, study_id=study.pk))
        return Response(WaveOutput(wave).data, status=status.HTTP_201_CREATED)


class WaveDetailApi(APIView):
    @extend_schema(responses={200: WaveOutput, **ERRORS}, tags=["authoring"])
    def get(self, request: Request, wave_id: int) -> Response:
        return Response(WaveOutput(selectors.get_wave_for(request.user, wave_id)).data)

    @extend_schema(request=WaveUpdateInput, responses={200: WaveOutput, **ERRORS}, tags=["authoring"])
    def patch(self, request: Request, wave_id: int) -> Response:
        wave = selectors.get_wave_for(request.user, wave_id)
        wave = services.wave_update(
            wave=wave, **_wave_input(request, WaveUpdateInput, study_id=wave.study_id)
        )
        return Response(WaveOutput(wave).data)


class WavePreviewApi(APIView):
    @extend_schema(parameters=[LANG_PARAMETER], responses=QUESTIONNAIRE_RESPONSES, tags=["authoring"])
    def get(self, request: Request, wave_id: int) -> HttpResponse:
        """The questionnaire of a wave as its participants receive it."""
        wave = selectors.get_wave_for(request.user, wave_id)
        if wave.questionnaire_version is None:
            raise NotFound(f"Wave '{wave.key}' has no questionnaire version yet.")
        return questionnaire_response(request, wave.questionnaire_version)
