# One image for every Shopfloor component and the model server.
# Built with `make image` where a Docker engine exists; the install is `make install`, the same
# target CI runs, so the image holds exactly the tested dependency set.
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    VENV=/opt/shopfloor/venv \
    PATH=/opt/shopfloor/venv/bin:$PATH \
    SHOPFLOOR_HOME=/var/lib/shopfloor

RUN apt-get update && apt-get install -y --no-install-recommends make \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --uid 10001 --create-home --shell /usr/sbin/nologin shopfloor \
    && mkdir -p /opt/shopfloor /var/lib/shopfloor \
    && chown -R shopfloor:shopfloor /opt/shopfloor /var/lib/shopfloor

WORKDIR /opt/shopfloor/app
COPY --chown=shopfloor:shopfloor . .
USER 10001
RUN make install PYTHON=python3 VENV=/opt/shopfloor/venv TORCH_INDEX=https://download.pytorch.org/whl/cpu

EXPOSE 8080
CMD ["shopfloor", "--help"]
