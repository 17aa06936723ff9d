"""Rendering a reminder in the participant's language, with a fresh personal link.

Texts come from the wave's ReminderPolicy (translated by the study team), else from the catalogue here.
Only the placeholders {link}, {wave} and {closes_on} are replaced: templates are text, never code, so a
template cannot reach into objects the way str.format could.
"""

from __future__ import annotations

import datetime
import re
import zoneinfo

from participants.models import Reminder, ReminderPolicy
from participants.services.access import link_issue
from translations import registry
from translations.content import text_along, text_of

DEFAULTS: dict[str, dict[str, str]] = {
    "invitation": {
        "en": "{wave}: your next questions are ready. Answer here before {closes_on}: {link}",
        "sv": "{wave}: dina nästa frågor är klara. Svara här före {closes_on}: {link}",
        "ar": "{wave}: أسئلتك التالية جاهزة. أجب هنا قبل {closes_on}: {link}",
        "fa": "{wave}: پرسش‌های بعدی شما آماده است. پیش از {closes_on} اینجا پاسخ دهید: {link}",
        "ti": "{wave}: ዝቕጽል ሕቶታትኩም ድሉዋት እዮም። ቅድሚ {closes_on} ኣብዚ መልሱ: {link}",
        "so": "{wave}: su'aalahaaga xiga waa diyaar. Ka jawaab ka hor {closes_on}: {link}",
    },
    "reminder": {
        "en": "{wave}: a friendly reminder, your answers matter to us. {link}",
        "sv": "{wave}: en vänlig påminnelse, dina svar är viktiga för oss. {link}",
        "ar": "{wave}: تذكير لطيف، إجاباتك مهمة لنا. {link}",
        "fa": "{wave}: یادآوری دوستانه، پاسخ‌های شما برای ما مهم است. {link}",
        "ti": "{wave}: ፍቕራዊ መዘኻኸሪ፣ መልስታትኩም ኣገደስቲ እዮም። {link}",
        "so": "{wave}: xusuusin saaxiibtinimo, jawaabahaagu waa muhiim. {link}",
    },
    "last_chance": {
        "en": "{wave}: last chance, the questions close on {closes_on}. {link}",
        "sv": "{wave}: sista chansen, frågorna stänger {closes_on}. {link}",
        "ar": "{wave}: الفرصة الأخيرة، تُغلق الأسئلة في {closes_on}. {link}",
        "fa": "{wave}: آخرین فرصت، پرسش‌ها در {closes_on} بسته می‌شود. {link}",
        "ti": "{wave}: ናይ መወዳእታ ዕድል፣ ሕቶታት ብ{closes_on} ይዕጾ። {link}",
        "so": "{wave}: fursadda ugu dambeysa, su'aaluhu waxay xirmayaan {closes_on}. {link}",
    },
}  # fmt: skip
_PLACEHOLDER = re.compile(r"\{(link|wave|closes_on)\}")
FIELDS = {
    Reminder.Kind.INVITATION: "invitation_text",
    Reminder.Kind.REMINDER: "reminder_text",
    Reminder.Kind.LAST_CHANCE: "last_chance_text",
}


def _pick(chain: list[str], candidates: dict[str, str]) -> tuple[str, str]:
    for language in chain:
        if candidates.get(language):
            return language, candidates[language]
    return "en", candidates.get("en", "")


def render(*, reminder: Reminder, policy: ReminderPolicy, channel: str) -> tuple[str, str]:
    """(subject, body) in the participant's language (or the nearest in its fallback chain)."""
    schedule = reminder.schedule
    participant, wave = schedule.participant, schedule.wave
    study = participant.study
    chain = registry.fallback_chain(
        participant.preferred_language, available=[*study.languages, "en"], source=study.source_language
    )
    field_name = FIELDS[Reminder.Kind(reminder.kind)]
    custom = {code: text_of(policy, field_name, code) for code in study.languages} if policy.pk else {}
    language, template = (
        _pick(chain, custom) if any(custom.values()) else _pick(chain, DEFAULTS[reminder.kind])
    )
    wave_name = text_along(wave, "name", [language, *chain])[1] or wave.key
    closes_on = schedule.closes_at.astimezone(zoneinfo.ZoneInfo(schedule.time_zone)) - datetime.timedelta(
        seconds=1
    )
    values = {
        "wave": wave_name,
        "closes_on": closes_on.date().isoformat(),
        "link": link_issue(
            participant=participant,
            wave_key=wave.key,
            valid_for=max(schedule.closes_at - reminder.due_at, datetime.timedelta(days=1)),
        ),
    }
    body = _PLACEHOLDER.sub(lambda match: values[match.group(1)], template)
    if registry.get(language).direction == "rtl" and channel == "sms":
        # An RTL mark keeps the Latin link and date from reordering the sentence on the phone.
        body = "\u200f" + body
    return wave_name, body
