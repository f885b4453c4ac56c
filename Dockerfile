# One image for every Shopfloor component and the model server.
#
#   make wheelhouse   once, where PyPI is reachable: every pinned wheel, at the versions CI tested
#   make image        docker build --build-arg BASE_IMAGE=... (default python:3.11-slim)
#
# The build installs from ./wheelhouse with --no-index: it needs no network, so it works in a factory
# network without a registry (with a base image made there: `make base-image`, see README).
ARG BASE_IMAGE=python:3.11-slim

FROM ${BASE_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
COPY wheelhouse /wheelhouse
COPY pyproject.toml README.md /src/
COPY shopfloor /src/shopfloor
COPY shopfloor_cli /src/shopfloor_cli
COPY components /src/components
COPY pipelines /src/pipelines
COPY serving /src/serving
COPY loadtest /src/loadtest
# Runtime dependencies only (no pytest, ruff, schemathesis); compiled once here, because the root
# filesystem is read-only where the image runs (a few vendored templates that are not Python 3.11 fail
# to compile, harmlessly: hence the `|| true`).
RUN python3 -m venv /opt/shopfloor/venv \
    && /opt/shopfloor/venv/bin/pip install --quiet --no-index --find-links /wheelhouse \
       -c /wheelhouse/constraints.txt torch==2.13.0 /src \
    && /opt/shopfloor/venv/bin/pip uninstall --quiet --yes pip \
    && (/opt/shopfloor/venv/bin/python -m compileall -q /opt/shopfloor/venv > /dev/null || true)

FROM ${BASE_IMAGE}
ENV PYTHONUNBUFFERED=1 \
    PATH=/opt/shopfloor/venv/bin:$PATH \
    SHOPFLOOR_HOME=/var/lib/shopfloor \
    HOME=/tmp \
    MPLCONFIGDIR=/tmp/matplotlib
RUN useradd --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin shopfloor \
    && mkdir -p /var/lib/shopfloor && chown 10001:10001 /var/lib/shopfloor
COPY --from=build /opt/shopfloor/venv /opt/shopfloor/venv
USER 10001
WORKDIR /var/lib/shopfloor
EXPOSE 8080
CMD ["shopfloor", "--help"]
