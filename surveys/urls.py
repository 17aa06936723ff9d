from django.urls import path

from surveys import views

urlpatterns = [
    path("studies/", views.StudyListApi.as_view(), name="study-list"),
    path("studies/<int:study_id>/", views.StudyDetailApi.as_view(), name="study-detail"),
    path(
        "studies/<int:study_id>/questionnaires/",
        views.QuestionnaireListApi.as_view(),
        name="questionnaire-list",
    ),
    path("studies/<int:study_id>/waves/", views.WaveListApi.as_view(), name="wave-list"),
    path(
        "questionnaires/<int:questionnaire_id>/",
        views.QuestionnaireDetailApi.as_view(),
        name="questionnaire-detail",
    ),
    path(
        "questionnaires/<int:questionnaire_id>/drafts/",
        views.QuestionnaireDraftApi.as_view(),
        name="questionnaire-draft",
    ),
    path("versions/<int:version_id>/", views.VersionDetailApi.as_view(), name="version-detail"),
    path("versions/<int:version_id>/publish/", views.VersionPublishApi.as_view(), name="version-publish"),
    path("versions/<int:version_id>/coverage/", views.VersionCoverageApi.as_view(), name="version-coverage"),
    path(
        "versions/<int:version_id>/questionnaire/", views.VersionPreviewApi.as_view(), name="version-preview"
    ),
    path("versions/<int:version_id>/sections/", views.SectionCreateApi.as_view(), name="section-create"),
    path("sections/<int:section_id>/", views.SectionDetailApi.as_view(), name="section-detail"),
    path("sections/<int:section_id>/questions/", views.QuestionCreateApi.as_view(), name="question-create"),
    path("questions/<int:question_id>/", views.QuestionDetailApi.as_view(), name="question-detail"),
    path("questions/<int:question_id>/choices/", views.ChoiceCreateApi.as_view(), name="choice-create"),
    path("choices/<int:choice_id>/", views.ChoiceDetailApi.as_view(), name="choice-detail"),
    path("translations/review/", views.TranslationReviewApi.as_view(), name="translation-review"),
    path("waves/<int:wave_id>/", views.WaveDetailApi.as_view(), name="wave-detail"),
    path("waves/<int:wave_id>/questionnaire/", views.WavePreviewApi.as_view(), name="wave-preview"),
]
