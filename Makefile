# Every target creates or reuses .venv, so each works on a fresh clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
BENCH_VENV := .venv-bench
BENCH_STAMP := $(BENCH_VENV)/.installed
# Evidently 0.7.x needs pandas < 3, so its drift benchmark has a venv of its own.
EVIDENTLY_VENV := .venv-evidently
EVIDENTLY_STAMP := $(EVIDENTLY_VENV)/.installed
# JupyterLab refuses to start as root unless told to.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)
PYTEST_ARGS ?=
# The JupyterLab extension (labextension/) is built by `pip install` (hatch-jupyter-builder);
# its sources are prerequisites of the install so that an edit rebuilds it. jlpm is
# JupyterLab's pinned yarn; its scripts call jlpm and jupyter-builder, hence the PATH.
LAB_SOURCES := $(wildcard labextension/package.json labextension/yarn.lock \
  labextension/tsconfig.json labextension/src/*.ts labextension/src/*/*.ts \
  labextension/src/*/*.tsx labextension/style/*)
JLPM := PATH="$(abspath $(BIN)):$$PATH" $(abspath $(BIN))/jlpm --cwd $(CURDIR)/labextension

.PHONY: install lab demo test lint format bench clean

install: $(STAMP)

$(STAMP): pyproject.toml $(LAB_SOURCES)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

# The embedded default store of this checkout: .mlops/ is found by walking up from the
# notebooks, so the lab, `make demo` and the CLI all see the same runs.
.mlops:
	mkdir -p .mlops

lab: install .mlops
	$(BIN)/jupyter lab $(ROOT_FLAG) --notebook-dir=. notebooks/demo.ipynb

demo: install .mlops
	$(BIN)/jupyter-mlops demo
	$(BIN)/jupyter-mlops demo lifecycle

lint: install
	$(BIN)/ruff check jupyter_mlops tests
	$(BIN)/ruff format --check jupyter_mlops tests
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache
	$(JLPM) lint:check

format: install
	$(BIN)/ruff format jupyter_mlops tests
	$(BIN)/ruff check --fix jupyter_mlops tests
	$(JLPM) lint

# .ci/with-services installs Chromium and starts a throw-away PostgreSQL (as root; otherwise
# it says what is missing and those tests are skipped), as CI does.
test: install lint
	.ci/with-services $(BIN)/python -m pytest $(PYTEST_ARGS)

$(BENCH_STAMP):
	test -x $(BENCH_VENV)/bin/python || $(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(BENCH_VENV)/bin/python -m pip install --quiet mlflow pandas numpy scikit-learn
	touch $(BENCH_STAMP)

# A .gitignore of its own, as .venv-evidently/ is not in the repository's.
$(EVIDENTLY_STAMP):
	test -x $(EVIDENTLY_VENV)/bin/python || $(PYTHON) -m venv $(EVIDENTLY_VENV)
	echo '*' > $(EVIDENTLY_VENV)/.gitignore
	$(EVIDENTLY_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(EVIDENTLY_VENV)/bin/python -m pip install --quiet "evidently>=0.7,<0.8" "pandas<3" numpy scipy
	touch $(EVIDENTLY_STAMP)

# Bytecode first, as any installed package has it (cold-start figures would otherwise include
# compiling the package's modules, where PYTHONDONTWRITEBYTECODE is set).
# The serving rows load servers with ApacheBench (Debian's apache2-utils, installed as root
# when missing); the ASGI-choice row compares with FastAPI, installed beside the project (it
# is no dependency of the package).
bench: install $(BENCH_STAMP) $(EVIDENTLY_STAMP)
	command -v ab >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get install -y -qq apache2-utils >/dev/null; } || echo "no ab: the serving rows will fail"
	$(BIN)/python -c "import fastapi" 2>/dev/null || $(BIN)/python -m pip install --quiet fastapi
	$(BIN)/python -m compileall -q jupyter_mlops
	$(BIN)/python tests/benchmarks/run.py

clean:
	rm -rf $(VENV) $(BENCH_VENV) $(EVIDENTLY_VENV) .pytest_cache .mypy_cache .ruff_cache build dist
	rm -rf jupyter_mlops/labextension labextension/node_modules labextension/lib \
	  labextension/.yarn labextension/tsconfig.tsbuildinfo labextension/.eslintcache
