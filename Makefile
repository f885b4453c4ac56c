# Shopfloor: two commands on a fresh clone. `make demo` installs and runs the fault-detection
# pipeline on the simulated gearbox line; `make test` runs ruff and pytest. The Dockerfile calls
# `make install` too, so the image installs exactly what CI tests.

PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
# torch first, pinned, so that no other package can pull a multi-GB CUDA build.
# TORCH_INDEX is empty here (pip finds the CPU wheel on this machine); the Dockerfile sets it to
# PyTorch's CPU index.
TORCH_INDEX ?=
TORCH_ARGS := $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX),)

.PHONY: install demo demo-loop test lint docs ui image wheelhouse base-image compile manifests benchmarks loadtest clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet $(TORCH_ARGS) torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

demo: install
	$(BIN)/shopfloor run fault-detection

# The feedback loop in its own data directory: serve, replay a drifting line, feed outcomes back, retrain, promote.
demo-loop: install
	$(BIN)/shopfloor demo-loop

# Style, formatting and types: ruff's rules, ruff's formatter (checked, not applied), mypy on the library.
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# One pytest-xdist worker per CPU this process may use (affinity and cgroup quota, not the node's core count);
# each worker's Shopfloor processes get their share of the CPUs as thread budget (tests/conftest.py).
# (Read when the recipe runs: on a fresh clone the environment does not exist before `install`.)
TEST_WORKERS ?= $$($(BIN)/python -c 'from shopfloor.platform.cpus import available_cpus; print(available_cpus())')

test: lint
	$(BIN)/pytest -n $(TEST_WORKERS) --dist worksteal --durations=15

# The documentation site (docs/, mkdocs); its measured-results page is generated from benchmarks/results/*.json.
docs: install
	$(BIN)/mkdocs build --strict

compile: install
	$(BIN)/shopfloor compile --all

ui: install
	$(BIN)/shopfloor ui

benchmarks: install
	$(BIN)/python benchmarks/fault_detection_e2e.py
	$(BIN)/python benchmarks/fault_detection_quality.py --dataset ai4i
	$(BIN)/python benchmarks/fault_detection_quality.py --dataset gearbox
	$(BIN)/python benchmarks/serving.py
	$(BIN)/python benchmarks/serving_contract.py
	$(BIN)/python benchmarks/demo_output.py
	$(BIN)/python benchmarks/health_index.py
	$(BIN)/python benchmarks/health_index_selection.py
	$(BIN)/python benchmarks/milling_anomaly.py
	$(BIN)/python benchmarks/wear_prognosis.py
	$(BIN)/python benchmarks/retraining_enkf.py
	$(BIN)/python benchmarks/retraining_loop.py
	$(BIN)/python benchmarks/prediction_log.py --rounds 5
	$(BIN)/python benchmarks/feedback_loop.py
	$(BIN)/python benchmarks/retraining_kinds.py
	$(BIN)/python benchmarks/wear_prior_widening.py
	$(BIN)/python benchmarks/rollouts.py

# Regenerate the InferenceServices, dashboard and alert rules of manifests/base from serving/ and render the overlay
# (kubectl's kustomize: `apt-get install kubectl` on Debian/Ubuntu, or `microk8s kubectl`).
manifests: install
	$(BIN)/python -m serving.inference_service > manifests/base/inferenceservices.yaml
	$(BIN)/python -m serving.observability > manifests/base/observability.yaml
	$(BIN)/python -m serving.sink > manifests/base/prediction-sink.yaml
	kubectl kustomize manifests/overlays/microk8s > /dev/null

# A local server on the champion, the paper's Locust profile (20 users x 10 req/s, 60 s), then stop.
loadtest: install
	$(BIN)/shopfloor loadtest --serve-local --users 20 --rate 10 --duration 60s

# The one image (Dockerfile): runtime dependencies from ./wheelhouse, no network at build time.
IMAGE ?= localhost:32000/shopfloor-python:0.1.0
BASE_IMAGE ?= python:3.11-slim
DEV_TOOLS := pytest|ruff|schemathesis|kubernetes-validate

# Every wheel the image needs, at the versions installed (and tested) here; run where PyPI is reachable.
wheelhouse: install
	mkdir -p wheelhouse
	$(BIN)/pip freeze --exclude-editable | grep -viE '^($(DEV_TOOLS))==' > wheelhouse/constraints.txt
	$(BIN)/pip download --quiet --dest wheelhouse -c wheelhouse/constraints.txt torch==2.13.0 . setuptools wheel

image: wheelhouse
	docker build --build-arg BASE_IMAGE=$(BASE_IMAGE) -t $(IMAGE) .

# A Debian base image made from Debian's archive, for machines that reach no container registry
# (needs root, debootstrap and a Docker engine): then `make image BASE_IMAGE=shopfloor-base:bookworm`.
base-image:
	mkdir -p build
	debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates bookworm build/rootfs \
		http://deb.debian.org/debian
	tar -C build/rootfs -c . | docker import - shopfloor-base:bookworm

clean:
	rm -rf $(VENV) .shopfloor .pytest_cache .ruff_cache site
