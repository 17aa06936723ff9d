from django.urls import path

from participants.views import answers, followup, keys, me, staff, staff_auth, study, webhooks

urlpatterns = [
    # staff sign-in
    path("auth/token/", staff_auth.StaffLoginApi.as_view(), name="staff-login"),
    path("auth/logout/", staff_auth.StaffLogoutApi.as_view(), name="staff-logout"),
    # field staff
    path("sites/", staff.SiteListApi.as_view(), name="site-list"),
    path("sites/<int:site_id>/participants/", staff.SiteParticipantsApi.as_view(), name="site-participants"),
    path("sites/<int:site_id>/participants/import/", staff.BulkEnrollApi.as_view(), name="site-bulk-enroll"),
    path("participants/<str:pseudonym>/", staff.ParticipantDetailApi.as_view(), name="participant-detail"),
    path("participants/<str:pseudonym>/contact/", staff.ContactApi.as_view(), name="participant-contact"),
    path(
        "participants/<str:pseudonym>/residences/",
        staff.ResidenceApi.as_view(),
        name="participant-residences",
    ),
    path(
        "participants/<str:pseudonym>/interventions/",
        staff.InterventionApi.as_view(),
        name="participant-interventions",
    ),
    path("participants/<str:pseudonym>/consents/", staff.ConsentApi.as_view(), name="participant-consents"),
    path("participants/<str:pseudonym>/withdraw/", staff.WithdrawApi.as_view(), name="participant-withdraw"),
    path("participants/<str:pseudonym>/access-code/", staff.ReissueApi.as_view(), name="participant-reissue"),
    path("sites/<int:site_id>/follow-up/", followup.SiteFollowUpApi.as_view(), name="site-follow-up"),
    path("sites/<int:site_id>/retention/", followup.SiteRetentionApi.as_view(), name="site-retention"),
    # study admins and researchers
    path("studies/<int:study_id>/audit/", study.AuditLogApi.as_view(), name="study-audit"),
    path("studies/<int:study_id>/panel/", study.PanelApi.as_view(), name="study-panel"),
    path("studies/<int:study_id>/retention/", followup.StudyRetentionApi.as_view(), name="study-retention"),
    path("studies/<int:study_id>/keys/", keys.StudyKeysApi.as_view(), name="study-keys"),
    path("keys/<int:key_id>/retire/", keys.StudyKeyRetireApi.as_view(), name="study-key-retire"),
    # participants
    path("access/code/", me.CodeExchangeApi.as_view(), name="access-code"),
    path("access/link/", me.LinkExchangeApi.as_view(), name="access-link"),
    path("me/", me.MeApi.as_view(), name="me"),
    path("me/contact/", me.MyContactApi.as_view(), name="me-contact"),
    path("me/consent/", me.MyConsentApi.as_view(), name="me-consent"),
    path("me/waves/", me.MyWavesApi.as_view(), name="me-waves"),
    path("me/waves/<slug:wave_key>/questionnaire/", me.MyQuestionnaireApi.as_view(), name="me-questionnaire"),
    path("me/waves/<slug:wave_key>/answers/", answers.AnswersApi.as_view(), name="me-answers"),
    path("me/waves/<slug:wave_key>/complete/", answers.CompleteApi.as_view(), name="me-complete"),
    path("me/withdraw/", me.MyWithdrawApi.as_view(), name="me-withdraw"),
    path("me/token/refresh/", me.TokenRefreshApi.as_view(), name="me-token-refresh"),
    path("me/logout/", me.LogoutApi.as_view(), name="me-logout"),
    # provider delivery reports
    path("webhooks/elks46/<int:reminder_id>/", webhooks.Elks46WebhookApi.as_view(), name="webhook-elks46"),
    path("webhooks/twilio/<int:reminder_id>/", webhooks.TwilioWebhookApi.as_view(), name="webhook-twilio"),
]
