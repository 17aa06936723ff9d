import csv, io
from hypothesis import HealthCheck, given, settings, strategies as st
from participants.services.bulk import COLUMNS, enroll_from_csv

def _csv_text(rows, le):
    b = io.StringIO(); w = csv.writer(b, lineterminator=le); w.writerow(COLUMNS); w.writerows(rows); return b.getvalue().encode()

good = ["ar","SY","KE","1990","","","2026-01-15","","N","+46701234567","","","","1","ar","on_screen",""]
def mutate(vals):
    return st.lists(st.one_of(st.text(max_size=30), st.sampled_from(["", "1", "true", "sms", "email", "2026-01-01", "+46701234567", "x@y.z", "read_aloud", "on_screen", "fatima", "woman", "sv"])), min_size=len(COLUMNS), max_size=len(COLUMNS))

@settings(max_examples=400, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(rows=st.lists(st.one_of(st.just(good), mutate(good)), min_size=1, max_size=3), data=st.binary(max_size=300))
def test_probe(site_a, fatima_user, consent_text, rows, data):
    for payload in (_csv_text(rows, "\n"), data):
        try:
            enroll_from_csv(site=site_a, by=fatima_user, data=payload)
        except csv.Error:
            pass
