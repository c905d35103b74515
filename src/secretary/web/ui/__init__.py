"""The browser UI: server-rendered pages (Jinja2, autoescaped) for the dashboard, triage,
the draft approval queue and accounts. Pages only call domain services; every
state-changing form is a POST guarded by a signed CSRF token. No JS build, no CDN: the
templates and ``static/app.css`` ship inside the package."""
