"""The whole program: every stack file runs, names are unique, components follow Pulumi's guidelines,
and an invalid config stops the program before anything is registered."""

from __future__ import annotations

import ast
import re
from collections import Counter
from typing import Any

import pulumi
import pytest
import yaml
from pydantic.alias_generators import to_camel

from settings import PROJECT, pulumi_schema, settings_from_config, top_level_keys
from settings.models import Settings
from settings.reference import BEGIN, END, markdown
from tests.conftest import ROOT, STACKS, deploy, deploy_config, deploy_program, run_program, stack_config, unwrap


def test_the_repository_has_dev_and_prod_stacks():
    assert {"dev", "prod"} <= set(STACKS)


@pytest.mark.parametrize("stack", STACKS)
def test_every_stack_file_runs(mocks, stack):
    outputs = deploy_program(mocks, stack_config(stack))
    server = outputs["server"]
    assert set(server.urls) == {"app", "api", "files"}
    kinds = Counter(r.kind for r in mocks.resources if r.typ.startswith("kubernetes:"))
    settings = settings_from_config(stack_config(stack))
    in_cluster = [t for t in ("mongodb", "redis", "elasticsearch") if getattr(settings, t).external is None]
    glues = len(settings.agent.all_queues) if settings.agent.enabled else 0
    exporters = len(in_cluster) if settings.monitoring.enabled else 0
    assert kinds["Deployment"] == 3 + settings.features.async_delete + glues + exporters
    assert kinds["StatefulSet"] == len(in_cluster)
    # Web, API and file server; a client and a headless Service per in-cluster data tier; each exporter's.
    assert kinds["Service"] == 3 + 2 * len(in_cluster) + exporters
    assert kinds["ServiceMonitor"] == exporters and kinds["PrometheusRule"] == int(settings.monitoring.enabled)


@pytest.mark.parametrize("stack", STACKS)
def test_resource_names_are_unique_per_type(mocks, stack):
    deploy_config(mocks, stack_config(stack))
    logical = Counter((r.typ, r.name) for r in mocks.resources)
    assert [k for k, n in logical.items() if n > 1] == []
    kube = Counter((r.typ, r.inputs.get("metadata", {}).get("namespace"), r.inputs.get("metadata", {}).get("name"))
                   for r in mocks.resources if r.typ.startswith("kubernetes:"))
    assert [k for k, n in kube.items() if n > 1] == []


def test_every_child_is_parented_to_its_component(mocks):
    deploy_config(mocks, stack_config("prod"))
    components = {(r.typ, r.name) for r in mocks.resources if not r.custom}
    for r in mocks.resources:
        if r.typ == "clearml:index:ClearmlServer":
            assert r.parent.endswith("pulumi:pulumi:Stack::clearml-openshift-test")
            continue
        parent_type, parent_name = r.parent.split("::")[-2].split("$")[-1], r.parent.split("::")[-1]
        assert (parent_type, parent_name) in components, f"{r.typ} {r.name} has parent {r.parent}"
        assert r.name.startswith(parent_name), f"{r.name} is not named from its component {parent_name}"


TOKEN = re.compile(r'super\(\).__init__\("clearml:([a-z]+):([A-Z][A-Za-z]+)"')


def test_components_follow_the_design_guidelines():
    sources = sorted((ROOT / "components").glob("*.py"))
    found = set()
    for path in sources:
        tree = ast.parse(path.read_text())
        for cls in (n for n in tree.body if isinstance(n, ast.ClassDef)):
            if not any(getattr(b, "attr", "") == "ComponentResource" for b in cls.bases):
                continue
            found.add(cls.name)
            init = next(f for f in cls.body if isinstance(f, ast.FunctionDef) and f.name == "__init__")
            source = ast.get_source_segment(path.read_text(), init)
            module, name = TOKEN.search(source).groups()
            assert name == cls.name and module in (path.stem.replace("_", ""), "index"), path.name
            last = init.body[-1]
            assert "register_outputs" in ast.unparse(last), f"{cls.name}: register_outputs must be the last statement"
            assert [a.arg for a in init.args.args] == ["self", "name", "args", "opts"], cls.name
            assert ast.unparse(init.args.args[2].annotation) == f"{cls.name}Args", f"{cls.name} takes one {cls.name}Args"
            assert "opts.merge" not in source and ".merge(opts)" not in source, "caller options leak into children"
    assert {"ClearmlServer", "MongoDB", "Redis", "Elasticsearch", "ApiServer", "FileServer", "WebServer",
            "AsyncDelete", "Credentials", "SccGrant"} <= found


def test_invalid_config_registers_nothing(mocks):
    bad = stack_config("dev") | {"clearml-openshift:mongodb": '{"replicas": 2}'}
    with pytest.raises(pulumi.RunError, match=r"clearml-openshift:mongodb.replicas: a MongoDB replica set"):
        deploy(lambda: run_program(bad))
    assert mocks.resources == []


def test_an_invalid_secret_value_is_never_shown(mocks):
    # `pulumi config set --secret clearml-openshift:edge ...` with a bad path: the engine marks the
    # key secret, and the program's error names the key but not the value.
    bad = stack_config("dev") | {"clearml-openshift:edge": '{"path": "no-slash-HUNTER2"}'}
    with pytest.raises(pulumi.RunError) as err:
        deploy(lambda: run_program(bad, secret_keys=["clearml-openshift:edge"]))
    assert "clearml-openshift:edge.path: '[secret]' must start with '/'" in str(err.value)
    assert "HUNTER2" not in str(err.value)
    assert mocks.resources == []


def test_stack_outputs(mocks):
    import asyncio

    outputs = deploy_program(mocks, stack_config("dev"))
    server = outputs["server"]
    assert server.urls["app"] == "https://clearml-dev-app.apps.dev.example.com"
    assert asyncio.get_event_loop().run_until_complete(server.admin_password.is_secret()) is True


def test_pulumi_yaml_declares_every_top_level_key():
    project = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
    assert project["name"] == PROJECT  # settings.PROJECT, the one place the code names the project
    assert project["runtime"] == {"name": "python", "options": {"toolchain": "pip", "virtualenv": "venv"}}
    config = {k: v for k, v in project["config"].items() if ":" not in k}
    assert list(config) == top_level_keys()
    for key, decl in config.items():
        assert decl["type"] == "object" and decl["description"] and decl["default"] == {}, key
    # The section is generated from the model, every field listed (`make readme-tables` rewrites it).
    text = (ROOT / "Pulumi.yaml").read_text()
    assert pulumi_schema.config_section() in text, "Pulumi.yaml's config section is stale: run `make readme-tables`"
    for name, field in Settings.model_fields.items():
        key = field.alias or to_camel(name)
        listed = re.search(r"\{([^}]*)\}", config[key]["description"])
        fields = [f.alias or to_camel(n) for n, f in field.annotation.model_fields.items()]
        assert listed and [x.strip() for x in listed.group(1).split(",")] == fields, key


SECRET_WORDS = ("password", "secret", "token", "apikey", "api_key", "connectionstring")


def _literal_secrets(value: Any, path: str) -> list[str]:
    """Paths of values that look like credentials written in: a string under a key naming one. A
    `{name, key}` mapping is a reference to an existing Secret, which is how credentials are given."""
    if isinstance(value, dict):
        if set(value) == {"name", "key"}:
            return []
        return [p for k, v in value.items() for p in _literal_secrets(v, f"{path}.{k}")]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _literal_secrets(v, f"{path}[{i}]")]
    last = path.rsplit(".", 1)[-1].lower()
    return [path] if isinstance(value, str) and any(w in last for w in SECRET_WORDS) else []


def test_stack_files_use_only_known_keys_and_no_plaintext_secrets():
    for stack in STACKS:
        config = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]
        for key, value in config.items():
            namespace, _, name = key.partition(":")
            if namespace == PROJECT:
                assert name in top_level_keys(), f"{stack}: {key}"
            assert _literal_secrets(value, key) == [], f"{stack}: a literal secret"
    # The check bites: a password written in, and a connection string given as text.
    assert _literal_secrets({"external": {"password": "hunter2"}}, "k") == ["k.external.password"]
    assert _literal_secrets({"external": {"connectionString": "mongodb://u:p@h"}}, "k") == ["k.external.connectionString"]
    assert _literal_secrets({"external": {"password": {"name": "s", "key": "p"}}}, "k") == []


def test_readme_configuration_reference_matches_the_model():
    readme = (ROOT / "README.md").read_text()
    assert BEGIN in readme and END in readme
    documented = readme[readme.index(BEGIN):readme.index(END) + len(END)] + "\n"
    assert documented == markdown(), "README.md is stale: run `python -m settings.reference` and paste the output"


@pytest.mark.parametrize("stack", STACKS)
def test_readme_resource_counts(mocks, stack):
    deploy_config(mocks, stack_config(stack))
    kube = [r for r in mocks.resources if r.typ.startswith("kubernetes:") and not r.read]
    values = sum(len(unwrap(r.inputs)["stringData"]) for r in kube if r.kind == "Secret")
    row = re.search(rf"^\| {stack} \| (\d+) \| (\d+) \| .* \| (\d+), in (\d+) Secrets \|$",
                    (ROOT / "README.md").read_text(), re.M)
    assert row, f"README.md has no resource-count row for {stack}"
    assert tuple(int(x) for x in row.groups()) == (
        len(mocks.resources), len(kube), values, sum(1 for r in kube if r.kind == "Secret"))
