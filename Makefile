# Single entry point. `make up` and `make test` are the two commands the README promises.
PYTHON ?= python3
VENV   ?= venv
STACK  ?= dev
PY      = $(VENV)/bin/python

.PHONY: venv test unit engine up preview drift destroy toolchain config-reference clean

# The same virtualenv Pulumi uses (Pulumi.yaml: runtime.options.virtualenv).
$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

venv: $(VENV)/.installed

test: unit engine  ## everything CI runs

unit: $(VENV)/.installed  ## unit tests: Pulumi mocks, no cluster, no CLI (well under a minute)
	$(PY) -m pytest -q -m "not engine"

engine: $(VENV)/.installed  ## engine tests: the real Pulumi CLI against a local control plane
	$(PY) -m pytest -q -m engine

up: $(VENV)/.installed  ## pulumi up for STACK (default dev), on your kubeconfig's cluster or the local one
	scripts/pulumi.sh up $(STACK)

preview: $(VENV)/.installed
	scripts/pulumi.sh preview $(STACK)

drift: $(VENV)/.installed  ## exit non-zero when the cluster no longer matches the last deployment
	scripts/pulumi.sh drift $(STACK)

destroy: $(VENV)/.installed
	scripts/pulumi.sh destroy $(STACK)

toolchain:  ## build (or reuse) the Pulumi CLI, providers, kube-apiserver and etcd
	scripts/toolchain.sh

config-reference: $(VENV)/.installed  ## print the README's configuration reference
	$(PY) -m settings.reference

clean:
	rm -rf $(VENV) .pytest_cache
