"""Throttles for guessing: per client address, and over all clients at once."""

from __future__ import annotations

from typing import Any

from rest_framework.throttling import ScopedRateThrottle, SimpleRateThrottle


class AccessCodeThrottle(ScopedRateThrottle):
    """Per client address, for the code and link exchange endpoints (scope ``access_code``)."""

    def get_cache_key(self, request: Any, view: Any) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class AccessCodeGlobalThrottle(SimpleRateThrottle):
    """One budget for everybody: a botnet spread over many addresses still cannot guess fast."""

    scope = "access_code_global"

    def get_cache_key(self, request: Any, view: Any) -> str:
        return self.cache_format % {"scope": self.scope, "ident": "all"}


class StaffLoginThrottle(ScopedRateThrottle):
    def get_cache_key(self, request: Any, view: Any) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
