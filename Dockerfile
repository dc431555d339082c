# citybot: slim image, non-root, `citybot run` by default.
# The dependencies are installed from requirements.lock (exact versions, sha256-checked), the
# project itself without them: the same versions on every build (README: "Upgrading").
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot bot
COPY handlers handlers
COPY broadcasts broadcasts
COPY messaging messaging
COPY storage storage
COPY migrations migrations
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 citybot
COPY requirements.lock /tmp/requirements.lock
RUN pip install --no-cache-dir --require-hashes -r /tmp/requirements.lock \
    && rm /tmp/requirements.lock
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-deps /wheels/*.whl && rm -rf /wheels
USER citybot
WORKDIR /home/citybot
ENV CITYBOT_HTTP_HOST=0.0.0.0 \
    CITYBOT_DATABASE_URL=sqlite+aiosqlite:////home/citybot/citybot.db \
    PYTHONUNBUFFERED=1
# The default port; the health check follows CITYBOT_HTTP_PORT when it is set.
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('CITYBOT_HTTP_PORT', '8080'), timeout=4)"]
ENTRYPOINT ["citybot"]
CMD ["run"]
