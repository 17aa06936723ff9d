from django.contrib import admin
from django.urls import include, path
from django.views.decorators.cache import never_cache
from django.views.generic import TemplateView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from backend import health

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("admin/", admin.site.urls),
    # The light participant client that personal links and QR codes open (PARTICIPANT_APP_URL).
    path(
        "p/", never_cache(TemplateView.as_view(template_name="participant_app.html")), name="participant-app"
    ),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("api/v1/", include("translations.urls")),
    path("api/v1/", include("surveys.urls")),
    path("api/v1/", include("participants.urls")),
]
