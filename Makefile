# baomi: two commands on a fresh machine.
#   make run    create the virtualenv, install, start the proxy on 127.0.0.1:8080
#   make test   same set-up, then the whole test suite (installs the servers the tests need);
#               it includes tests/test_installed.py, which builds the wheel and runs baomi from
#               a fresh venv outside the tree (make test-installed runs just that)
#   make test-image   build the container image with podman on a locally made Debian base and
#                     run it (deploy/image/build.sh, tests/test_image.py; root, a few minutes)
SHELL := /bin/bash
VENV  := .venv
PY    := $(VENV)/bin/python
IMAGE ?= localhost/baomi:0.1.0
STAMP := $(VENV)/.installed

# First Python >= 3.12 found: $PYTHON, python3.13/3.12 on PATH, then pyenv's versions.
FIND_PYTHON = for c in "$$PYTHON" python3.13 python3.12 python3 $$(ls -d $$HOME/.pyenv/versions/3.1[2-9]*/bin/python 2>/dev/null | sort -rV); do \
	  [ -n "$$c" ] || continue; p=$$(command -v "$$c" 2>/dev/null) || continue; \
	  "$$p" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null && { echo "$$p"; exit 0; }; \
	done; echo "baomi needs Python >= 3.12 (set PYTHON=/path/to/python3.12)" >&2; exit 1

.PHONY: run test test-installed image test-image venv system-deps bench clean model

$(STAMP): pyproject.toml
	@py=$$($(FIND_PYTHON)) && echo "using $$py" && \
	  { [ -x $(PY) ] || "$$py" -m venv $(VENV); }
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	@touch $(STAMP)

venv: $(STAMP)

run: $(STAMP)
	$(VENV)/bin/baomi run --policy policies/default.yaml --listen-host 127.0.0.1 --listen-port 8080

system-deps:
	@bash tests/system-deps.sh

test: $(STAMP) system-deps
	$(VENV)/bin/python -m pytest -q tests

test-installed: $(STAMP)
	$(VENV)/bin/python -m pytest -q tests/test_installed.py

# PODMAN_RUNTIME=runc on hosts where crun refuses hybrid cgroups; PIP_CERT=bundle behind a
# TLS-inspecting proxy (see deploy/image/build.sh).
image:
	deploy/image/build.sh $(IMAGE)

test-image: $(STAMP) image
	BAOMI_IMAGE=$(IMAGE) $(VENV)/bin/python -m pytest -q tests/test_image.py

# The shipped NER model (detectors/models/ner) from the corpora in detectors/training/SOURCES.md
# (local copies under $BAOMI_NER_CORPORA, default /work/.mirror); about 30-40 min on 2 cores.
model: $(STAMP)
	nice -n 10 $(PY) -m detectors.training.train

bench: $(STAMP)
	$(VENV)/bin/python bench/proxy_throughput.py
	$(VENV)/bin/python bench/detection_throughput.py
	$(VENV)/bin/python bench/passthrough.py

clean:
	rm -rf $(VENV) var build *.egg-info
