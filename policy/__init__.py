"""The clearml-openshift CrossGuard policy pack (see README.md here). `policies` holds the rules as
plain functions; `__main__.py` is the pack's entry point; `tls_verification` is shared with the tests."""
