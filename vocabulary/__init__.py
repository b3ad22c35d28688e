"""The ground floor: names OpenShift defines, in one place, imported by settings, components, policy,
preflight and tests. Nothing here imports from the rest of the project."""
