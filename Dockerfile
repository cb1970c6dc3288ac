# One image for every turnout role; the compose file picks the command.
FROM python:3.11-slim AS base
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY turnout ./turnout
COPY splitter ./splitter
COPY config ./config
COPY edge ./edge
COPY ingest ./ingest
COPY benchmarks ./benchmarks
COPY data ./data
COPY examples ./examples
RUN pip install . && useradd --system --uid 10001 turnout && mkdir -p /var/lib/turnout \
    && chown turnout /var/lib/turnout
USER turnout
ENV TURNOUT_DATA_DIR=/var/lib/turnout
ENTRYPOINT ["turnout"]
