# One image for every turnout role; the compose file picks the command.
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml setup.py README.md ./
COPY turnout ./turnout
COPY splitter ./splitter
COPY config ./config
COPY edge ./edge
COPY ingest ./ingest
COPY benchmarks ./benchmarks
RUN pip wheel --no-deps -w /wheels . && pip wheel -w /wheels /wheels/turnout-*.whl

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
COPY --from=build /wheels /wheels
RUN pip install --no-index /wheels/*.whl && rm -rf /wheels \
    && useradd --system --uid 10001 turnout && mkdir -p /var/lib/turnout \
    && chown turnout /var/lib/turnout
WORKDIR /app
COPY data ./data
COPY examples ./examples
USER turnout
ENV TURNOUT_DATA_DIR=/var/lib/turnout
ENTRYPOINT ["turnout"]
