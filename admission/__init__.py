"""Admission checks as pure functions: OpenShift SCC admission (`scc`) and Kubernetes Pod
Security `restricted` (`pod_security`). Used by the tests on every pod template the program
produces, and shared with the policy pack."""

from .pod_security import check_restricted
from .scc import Namespace, admit, load_scc

__all__ = ["Namespace", "admit", "check_restricted", "load_scc"]
