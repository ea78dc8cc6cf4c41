"""gunicorn's configuration for the web process (Procfile: ``gunicorn -c config/gunicorn.conf.py
config.wsgi``).

Read from the environment (or the project's ``.env``): ``WEB_CONCURRENCY`` (worker processes,
default 2) and ``PORT`` (default 8000). Anything else can be overridden without editing this file
through gunicorn's own ``GUNICORN_CMD_ARGS`` (``GUNICORN_CMD_ARGS="--threads 8 --timeout 90"``),
which wins over it.

The access log never holds a query string (Clever's OAuth callback carries a single-use
``code``, Instant Login links a district and a user), a referrer (the same URLs, one hop later),
a client address or a user agent: the method, the path, the status, the size, the duration and
the request ID (``X-Request-ID``, the same ID as on the app's own log lines).
"""

import os
from pathlib import Path

import environ

# The same `.env` the settings read (the real environment wins), read here too so that its PORT
# and WEB_CONCURRENCY reach gunicorn itself, which reads them before any worker loads Django.
_env_file = os.environ.get("DJANGO_ENV_FILE", str(Path(__file__).resolve().parent.parent / ".env"))
if _env_file and Path(_env_file).is_file():
    environ.Env.read_env(_env_file)

bind = [f"0.0.0.0:{int(os.environ.get('PORT', '8000'))}"]
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# Threads: a sign-in waits on Clever (up to CLEVER_TIMEOUT per call); threads keep other requests
# moving meanwhile. Django opens one database connection per thread.
worker_class = "gthread"
threads = 4

# A worker silent this long is killed and replaced; on shutdown or reload, requests in flight get
# graceful_timeout to finish. Behind a load balancer, idle keep-alive connections are held a little
# longer than gunicorn's default 2 s.
timeout = 60
graceful_timeout = 30
keepalive = 5
# Recycle each worker after about a thousand requests (bounds slow memory growth).
max_requests = 1000
max_requests_jitter = 100
# No control socket (gunicornc): its default path, under $HOME, is shared by every gunicorn on
# the host and may be read-only.
control_socket_disable = True

accesslog = "-"
errorlog = "-"
loglevel = "info"
# %(U)s is the path without its query string; never %(r)s (the request line), %(q)s or %(f)s.
access_log_format = '%(t)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms request_id=%({x-request-id}o)s'
