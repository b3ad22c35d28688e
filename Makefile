# Single entry point. `make up` and `make test` are the two commands the README promises.
PYTHON ?= python3
VENV   ?= venv
STACK  ?= dev
PY      = $(VENV)/bin/python

.PHONY: venv test typecheck promtool unit engine backup backups restore rotate host images random-provider up preview preflight drift destroy output render benchmark toolchain config-reference readme-tables clean

# The same virtualenv Pulumi uses (Pulumi.yaml: runtime.options.virtualenv).
$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

venv: $(VENV)/.installed

test: typecheck promtool unit engine  ## everything CI runs

unit: $(VENV)/.installed  ## unit tests: Pulumi mocks, no cluster, no CLI (about 18 s on 2 cores), on every core
	$(PY) -m pytest -q -n auto -m "not engine"

promtool:  ## Prometheus's promtool into build/promtool (the monitoring rule tests; skipped by `make unit` without it)
	scripts/build-promtool.sh >/dev/null

typecheck: $(VENV)/.installed  ## mypy over the program, policy pack, preflight and scripts (.mypy.ini), clean
	$(VENV)/bin/mypy

engine: $(VENV)/.installed host toolchain random-provider images  ## engine + end-to-end tests on the local cluster (pods really run)
	$(PY) -m pytest -q -m engine

host:  ## Debian packages of the local node and the image builds (containerd, runc, CNI, mmdebstrap)
	scripts/host-packages.sh

random-provider:  ## the pulumi-resource-random stand-in (tools/random-provider, about 2 min cold)
	scripts/build-random-provider.sh

images: toolchain  ## build the stand-in images the local cluster runs (scripts/images.sh)
	scripts/images.sh build

up: $(VENV)/.installed  ## pulumi up for STACK (default dev), on your kubeconfig's cluster or the local one (policy pack on)
	scripts/pulumi.sh up $(STACK)

preview: $(VENV)/.installed
	scripts/pulumi.sh preview $(STACK)

preflight: $(VENV)/.installed  ## check STACK's cluster prerequisites (APIs, namespace, classes, issuers, access); creates nothing
	scripts/pulumi.sh preflight $(STACK)

drift: $(VENV)/.installed  ## report drift (for its exit code, 0/3/1, run scripts/pulumi.sh drift STACK directly)
	scripts/pulumi.sh drift $(STACK)

OUT ?= rendered/$(STACK)
render: $(VENV)/.installed  ## write STACK's manifests to OUT with the real engine, no cluster (Secrets left out)
	$(PY) scripts/render.py --stack $(STACK) --out $(OUT)

benchmark: $(VENV)/.installed  ## engine timings per stack on the local control plane
	$(PY) scripts/benchmark.py

backup: $(VENV)/.installed  ## a backup set of STACK now (MongoDB, Elasticsearch snapshot, file server volume)
	scripts/pulumi.sh backup $(STACK)

backups: $(VENV)/.installed  ## list STACK's backup sets
	scripts/pulumi.sh backups $(STACK)

FROM ?=
restore: $(VENV)/.installed  ## restore STACK from backup set FROM (an ID or latest): writers stopped, stores restored, writers started
	@test -n "$(FROM)" || { echo "usage: make restore STACK=<stack> FROM=<set ID|latest>" >&2; exit 2; }
	scripts/pulumi.sh restore $(STACK) --from $(FROM) --yes

CREDENTIAL ?=
rotate: $(VENV)/.installed  ## rotate one generated CREDENTIAL of STACK (redis, elasticsearch, clearml-keys, session-secret, token-secret, admin-password, mongodb)
	@test -n "$(CREDENTIAL)" || { echo "usage: make rotate STACK=<stack> CREDENTIAL=<redis|elasticsearch|clearml-keys|session-secret|token-secret|admin-password|mongodb>" >&2; exit 2; }
	scripts/pulumi.sh rotate $(STACK) $(CREDENTIAL)

destroy: $(VENV)/.installed
	scripts/pulumi.sh destroy $(STACK)

output: $(VENV)/.installed  ## stack outputs (add ARGS=--show-secrets to see the admin password)
	scripts/pulumi.sh output $(STACK) $(ARGS)

toolchain:  ## build (or reuse) the Pulumi CLI, providers, Kubernetes, etcd, CoreDNS, cert-manager, the SCC webhook
	scripts/toolchain.sh

config-reference: $(VENV)/.installed  ## print the README's configuration reference
	$(PY) -m settings.reference

readme-tables: $(VENV)/.installed  ## rewrite what the settings model generates: README's reference and Helm table, Pulumi.yaml's config section
	$(PY) scripts/readme_tables.py

clean:
	rm -rf $(VENV) .pytest_cache
