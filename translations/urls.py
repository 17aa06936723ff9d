from django.urls import path

from translations.views import LanguageListApi

urlpatterns = [path("languages/", LanguageListApi.as_view(), name="language-list")]
