"""clearml-openshift: the ClearML server on OpenShift under the restricted-v2 SCC.

Reads and validates the stack configuration, checks the cluster's prerequisites (preflight/),
and only then deploys `components.server.ClearmlServer`: nothing is registered if either fails.
See README.md.
"""

import atexit
import gc

# The program allocates many short-lived SDK objects and builds few cycles: collect less often, and
# freeze what is left at exit, so that the interpreter's last collection does not walk the ~170,000
# objects of the SDKs (scripts/benchmark_eval.py; BENCHMARKS.md, "Unit suite and program evaluation").
gc.set_threshold(20_000, 20, 20)
atexit.register(gc.freeze)

import pulumi

import preflight
from components.server import ClearmlServer, ClearmlServerArgs
from components.upgrade_backup import Deployed
from program import local_target, transforms
from settings import ConfigError, current_config, current_secret_keys, settings_from_config
from vocabulary.clearml import SERVER_NAME

config = current_config()
try:
    settings = settings_from_config(config, current_secret_keys())
except ConfigError as err:
    raise pulumi.RunError(str(err)) from None

deployed = None  # what runs now, as preflight read it
if local_target.rendering():
    # Offline render (scripts/render.py): plain manifests, no engine annotations, nothing read from a cluster.
    settings = local_target.adjust(settings)
else:
    try:
        report, seconds = preflight.run(settings, config)
    except preflight.PreflightFailed as err:
        raise pulumi.RunError(str(err)) from None
    pulumi.log.info(preflight.summary(report, seconds))
    deployed = Deployed(running_images=report.running_images, upgrade_job_exists=report.upgrade_job_exists)
    transforms.register(transforms.annotate(transforms.PATCH_FORCE))
    transforms.register(transforms.annotate(transforms.SKIP_AWAIT, only=transforms.CLAIM))
    if local_target.enabled():
        pulumi.log.info("CLEARML_OPENSHIFT_LOCAL_TARGET=1: not awaiting readiness (program/local_target.py)")
        transforms.register(local_target.skip_await)
        settings = local_target.adjust(settings)

server = ClearmlServer(SERVER_NAME, ClearmlServerArgs(settings=settings, deployed=deployed))

pulumi.export("namespace", server.namespace)
pulumi.export("urls", server.urls)
pulumi.export("credentialsSecret", server.credentials_secret)
pulumi.export("adminUsername", server.admin_username)
pulumi.export("adminPassword", server.admin_password)
pulumi.export("testsAccessKey", server.tests_key)
pulumi.export("testsSecretKey", server.tests_secret)
if server.ca_certificate is not None:
    pulumi.export("caCertificate", server.ca_certificate)
