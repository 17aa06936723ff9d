"""Input shapes shared by the enrollment API and the CSV import (one validator for both)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from rest_framework import serializers

from participants.models import Channel, ConsentRecord, ConsentText
from participants.services import register
from translations import registry


class ConsentInput(serializers.Serializer):  # type: ignore[type-arg]
    consent_text = serializers.PrimaryKeyRelatedField(queryset=ConsentText.objects.select_related("study"))
    language = serializers.ChoiceField(choices=registry.CODES)
    method = serializers.ChoiceField(choices=ConsentRecord.Method.choices)
    witnessed_by = serializers.SlugRelatedField(
        slug_field="username", queryset=User.objects.all(), required=False, allow_null=True
    )


class EnrollInput(serializers.Serializer):  # type: ignore[type-arg]
    request_id = serializers.UUIDField(
        required=False, help_text="Client-generated; a retry returns the first result."
    )
    preferred_language = serializers.ChoiceField(choices=registry.CODES)
    country_of_origin = serializers.CharField(min_length=2, max_length=2)
    country_of_departure = serializers.CharField(min_length=2, max_length=2)
    birth_year = serializers.IntegerField(min_value=1900, max_value=2100)
    gender = serializers.SlugField(required=False, allow_blank=True)
    cohort = serializers.SlugField(required=False, allow_blank=True)
    enrolled_on = serializers.DateField()
    planned_departure_on = serializers.DateField(required=False, allow_null=True)
    name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    phone = serializers.CharField(max_length=40, required=False, allow_blank=True)
    email = serializers.CharField(max_length=254, required=False, allow_blank=True)
    preferred_channel = serializers.ChoiceField(choices=Channel.choices, required=False)
    whatsapp_opt_in = serializers.BooleanField(required=False)
    consent = ConsentInput()


def enroll_kwargs(data: dict[str, Any]) -> dict[str, Any]:
    consent = data.pop("consent")
    data["consent"] = register.ConsentInput(**consent)
    data["request_id"] = data.pop("request_id", None)
    for optional in ("gender", "cohort"):
        data[optional] = data.get(optional) or None
    return data
