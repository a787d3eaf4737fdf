# relaybot: one process for every enabled platform (README "Operations" > Docker).
#   docker build -t relaybot .
# The image holds the example config at /config/config.yaml (RELAYBOT_CONFIG); mount your own
# folder over /config, or pass the variables it reads (RELAY_BASE_URL, RELAY_API_KEY, ...).
# The database lives in the /data volume (storage.path: ${RELAYBOT_DATA}/relaybot.db).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    RELAYBOT_CONFIG=/config/config.yaml \
    RELAYBOT_DATA=/data \
    RELAYBOT_HTTP_LISTEN=0.0.0.0 \
    RELAYBOT_HEALTH=true

WORKDIR /app

# Dependencies first, in a layer of their own: a code change does not reinstall them.
COPY pyproject.toml ./
RUN python -c "import tomllib; deps = tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']; open('/tmp/requirements.txt', 'w').write('\n'.join(deps))" \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

# Then the code (installed without touching the dependencies again).
COPY README.md ./
COPY core ./core
COPY bots ./bots
RUN pip install --no-deps . \
    && useradd --create-home --uid 10001 --user-group relaybot \
    && mkdir -p /data /config \
    && chown relaybot:relaybot /data
COPY config.example.yaml /config/config.yaml

USER 10001
VOLUME ["/data"]
# The HTTP server (/healthz always, /metrics with http.metrics, the WeChat bridge).
EXPOSE 8080
# `relaybot health` asks the running bot's /healthz (exit 0 healthy, 1 not).
HEALTHCHECK --interval=30s --timeout=15s --start-period=40s --retries=3 \
    CMD ["relaybot", "health"]
# SIGTERM lets answers in flight finish within shutdown_grace_s (30 s by default): give the
# container more than that to stop (docker run --stop-timeout 40; compose stop_grace_period).
STOPSIGNAL SIGTERM
CMD ["relaybot", "run"]
