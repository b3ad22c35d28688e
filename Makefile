# Single entry point. `make test` and `make up` are the two commands the README promises.
PYTHON ?= python3
VENV   ?= venv
STACK  ?= dev
PY      = $(VENV)/bin/python

.PHONY: test up preview config-reference clean

# The same virtualenv Pulumi uses (Pulumi.yaml: runtime.options.virtualenv).
$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

test: $(VENV)/.installed  ## unit tests (Pulumi mocks, no cluster, no CLI)
	$(PY) -m pytest -q

up: $(VENV)/.installed  ## pulumi up for STACK (default dev)
	scripts/pulumi.sh up $(STACK)

preview: $(VENV)/.installed  ## pulumi preview for STACK
	scripts/pulumi.sh preview $(STACK)

config-reference: $(VENV)/.installed  ## print the README's configuration reference
	$(PY) -m settings.reference

clean:
	rm -rf $(VENV) .pytest_cache
