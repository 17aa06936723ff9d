import csv
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand

from participants.models import Municipality

DATA = Path(__file__).resolve().parents[2] / "data"


class Command(BaseCommand):
    help = "Load or refresh Sweden's municipalities (SCB codes) from participants/data/ or given CSV files."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--municipalities", type=Path, default=DATA / "municipalities.csv")
        parser.add_argument("--counties", type=Path, default=DATA / "counties.csv")

    def handle(self, *args: Any, municipalities: Path, counties: Path, **options: Any) -> None:
        with counties.open(encoding="utf-8") as handle:
            county_names = {row["county_code"]: row["county_name"] for row in csv.DictReader(handle)}
        count = 0
        with municipalities.open(encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                Municipality.objects.update_or_create(
                    code=row["municipality_code"],
                    defaults={
                        "name": row["municipality_name_short"],
                        "county_code": row["county_code"],
                        "county_name": county_names[row["county_code"]],
                    },
                )
                count += 1
        self.stdout.write(f"{count} municipalities loaded.")
