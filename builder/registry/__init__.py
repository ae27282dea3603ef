"""OCI distribution client: auth, credentials, pull, push, blob mounts.

Modules (import them directly; this package imports nothing, so the CLI
stays fast to start):

- `client.RegistryClient`: the distribution API of one registry;
- `pull.pull`, `push.push`: between a registry and the local `Store`;
- `credentials`: docker's config.json and credential helpers (login/logout);
- `auth`: WWW-Authenticate challenges, Basic and Bearer tokens;
- `transport`: HTTP(S), retries, redirects; `errors`: one-line RegistryErrors;
- `progress.ProgressEvent`: what pull and push report, for the CLI to draw.
"""
