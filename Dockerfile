# relaybot: one process for every enabled platform. Mount your config at /config/config.yaml
# and pass secrets as environment variables (RELAY_API_KEY, TELEGRAM_TOKEN, ...).
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY core ./core
COPY bots ./bots
RUN pip install --no-cache-dir . \
    && useradd --create-home --uid 10001 relaybot \
    && mkdir -p /data /config && chown relaybot /data
USER relaybot
VOLUME ["/data"]
# storage.path in your config should point under /data so history survives the container.
CMD ["relaybot", "run", "-c", "/config/config.yaml"]
