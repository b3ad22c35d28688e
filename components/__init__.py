"""ComponentResources of clearml-openshift: one per ClearML tier, plus the shared builders.

Start at `server.ClearmlServer`; each tier lives in its own module (`apiserver`, `fileserver`,
`webserver`, `async_delete`, `mongodb`, `redis`, `elasticsearch`, `credentials`). Security
contexts come only from `security`, pod templates only from `workload`.
"""
