#!/bin/sh
# Container entrypoint; also works outside Docker (uses `python` from PATH, or $PYTHON).
#
#   web            gunicorn on ${BIND:-0.0.0.0:8000} with ${WEB_CONCURRENCY:-2} workers
#   worker         Celery worker for the queues default and providers
#   beat           Celery beat (schedule file in /tmp)
#   migrate        apply database migrations
#   check          manage.py check --deploy --fail-level WARNING
#   manage ARGS    manage.py ARGS
#   anything else  exec'd as is
#
# WAIT_FOR_DB=1 waits up to ${WAIT_FOR_DB_TIMEOUT:-60} seconds for the database before the command.
set -eu

cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python}

wait_for_db() {
    "$PYTHON" - <<'EOF'
import os
import sys
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings.local")
import django

django.setup()
from django.db import connection
from django.db.utils import OperationalError

deadline = time.monotonic() + float(os.environ.get("WAIT_FOR_DB_TIMEOUT", "60"))
while True:
    try:
        connection.ensure_connection()
        break
    except OperationalError as exc:
        if time.monotonic() >= deadline:
            print(f"entrypoint: database not reachable: {exc}", file=sys.stderr)
            sys.exit(1)
        connection.close()
        time.sleep(1)
connection.close()
EOF
}

if [ "$#" -eq 0 ]; then
    set -- web
fi

if [ "${WAIT_FOR_DB:-0}" = 1 ]; then
    wait_for_db
fi

command=$1
shift
case "$command" in
    web)
        # The access log names method, path (never the query string: personal link tokens travel there),
        # status, size and duration; no bodies are logged.
        exec "$PYTHON" -m gunicorn backend.wsgi:application \
            --bind "${BIND:-0.0.0.0:8000}" \
            --workers "${WEB_CONCURRENCY:-2}" \
            --timeout "${GUNICORN_TIMEOUT:-30}" \
            --graceful-timeout "${GUNICORN_GRACEFUL_TIMEOUT:-25}" \
            --access-logfile - \
            --access-logformat '%(h)s "%(m)s %(U)s" %(s)s %(b)s %(L)s' \
            --error-logfile - \
            --no-control-socket \
            "$@"
        ;;
    worker)
        exec "$PYTHON" -m celery -A backend worker \
            -l "${LOG_LEVEL:-info}" \
            -Q default,providers \
            --concurrency "${WORKER_CONCURRENCY:-2}" \
            "$@"
        ;;
    beat)
        exec "$PYTHON" -m celery -A backend beat -l info \
            --schedule /tmp/celerybeat-schedule \
            "$@"
        ;;
    migrate)
        exec "$PYTHON" manage.py migrate --noinput "$@"
        ;;
    check)
        exec "$PYTHON" manage.py check --deploy --fail-level WARNING "$@"
        ;;
    manage)
        exec "$PYTHON" manage.py "$@"
        ;;
    *)
        exec "$command" "$@"
        ;;
esac
