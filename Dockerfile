# citybot: slim image, non-root, `citybot run` by default.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot bot
COPY handlers handlers
COPY broadcasts broadcasts
COPY messaging messaging
COPY storage storage
COPY migrations migrations
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 citybot
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
USER citybot
WORKDIR /home/citybot
ENV CITYBOT_HTTP_HOST=0.0.0.0 \
    CITYBOT_DATABASE_URL=sqlite+aiosqlite:////home/citybot/citybot.db \
    PYTHONUNBUFFERED=1
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4)" || exit 1
ENTRYPOINT ["citybot"]
CMD ["run"]
