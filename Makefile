# Two commands for a fresh machine: `make demo` and `make test`.
# Both create .venv with Python 3.12 (pyenv reads .python-version) and install the package
# with the exact dependency versions of constraints.txt (what CI tested; `make lock` updates it).
PYTHON ?= $(shell command -v python3.12 2>/dev/null || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test validate lint bench docs clean lock

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 12), f"bayesspr needs Python >= 3.12, found {sys.version.split()[0]} at {sys.executable}"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/bayesspr demo

# Two workers (pytest-xdist), each test module whole on one, so no module fixture fits twice,
# in the order tests/conftest.py gives (slowest modules first; xdist would sort by test count);
# the demo-world fits are made once and shared through a file lock (tests/conftest.py).
test: $(STAMP)
	$(BIN)/ruff check bayesspr tests benchmarks
	$(BIN)/python -m pytest -q -n 2 --dist loadfile --no-loadscope-reorder

# The full statistical evidence (tests marked `validation`: the ten convergence worlds, SBC,
# recovery, extrapolation, 16-month volume coverage, the executed docs examples), seeded; each
# figure goes to docs/validation_table.md, which the docs include.
VALIDATION_RECORD := .validation-record.jsonl
validate: $(STAMP)
	rm -f $(VALIDATION_RECORD)
	BAYESSPR_VALIDATION_RECORD=$(CURDIR)/$(VALIDATION_RECORD) $(BIN)/python -m pytest -q \
		-m validation -p no:xdist; status=$$?; \
	$(BIN)/python benchmarks/validation_table.py $(VALIDATION_RECORD) docs/validation_table.md; \
	exit $$status

lint: $(STAMP)
	$(BIN)/ruff check bayesspr tests benchmarks
	$(BIN)/ruff format --check bayesspr tests benchmarks

bench: $(STAMP)
	$(BIN)/python benchmarks/physics_vs_vrp.py
	$(BIN)/python benchmarks/fit_speed.py

DOCS_STAMP := $(VENV)/.docs-installed

$(DOCS_STAMP): $(STAMP) pyproject.toml
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[docs]"
	touch $(DOCS_STAMP)

# The site, with the quickstart and notebooks executed (cached in docs/_build/.jupyter_cache).
docs: $(DOCS_STAMP)
	$(BIN)/sphinx-build -W --keep-going -b html docs docs/_build/html
	@echo "open docs/_build/html/index.html"

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache docs/_build

# Re-resolve the newest versions the lower bounds in pyproject.toml allow, in a scratch venv,
# and write them to constraints.txt. Review the diff and run `make test` before committing.
lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/python -m pip install --quiet --upgrade pip
	.lock-venv/bin/python -m pip install --quiet -e ".[dev]"
	{ head -n 3 constraints.txt; .lock-venv/bin/python -m pip freeze --exclude-editable; } > constraints.txt.new
	mv constraints.txt.new constraints.txt && rm -rf .lock-venv
	@echo "constraints.txt updated: review 'git diff constraints.txt', then run 'make test'"
