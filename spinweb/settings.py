"""Spinweb settings, driven by the environment (see the README's configuration table)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import django_stubs_ext

from spinweb import env

# Lets admin, forms and querysets be subscripted with their model type at run time.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = env.data_dir(BASE_DIR)

DEBUG = env.env_bool("SPINWEB_DEBUG", False)
SECRET_KEY = env.secret_key(DATA_DIR)
ALLOWED_HOSTS = env.env_list("SPINWEB_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.env_list("SPINWEB_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "knox",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_q",
    "spinweb",
    "applications",
    "clouds",
    "pipelines",
    "canary",
    "policies",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "policies.middleware.PolicyAuthzMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "spinweb.urls"
WSGI_APPLICATION = "spinweb.wsgi.application"
ASGI_APPLICATION = "spinweb.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "policies.context_processors.fail_open",
            ],
        },
    },
]

DATABASES = {"default": env.database(DATA_DIR)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "applications:list"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.time_zone("SPINWEB_TIME_ZONE", "UTC")
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = DATA_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Serve static files from their source folders, so no collectstatic step is needed.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env.env_bool("SPINWEB_SECURE_COOKIES", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
X_FRAME_OPTIONS = "DENY"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "knox.auth.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "spinweb.api.Pagination",
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.SearchFilter",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "spinweb.api.exception_handler",
    "PAGE_SIZE": 50,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Spinweb API",
    "DESCRIPTION": "Applications, cloud accounts, clusters, server groups, load balancers and the audit log.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
}

REST_KNOX = {
    "TOKEN_TTL": timedelta(hours=env.env_int("SPINWEB_TOKEN_TTL_HOURS", 24 * 30, minimum=1, maximum=24 * 3650)),
    "AUTO_REFRESH": False,
    "TOKEN_PREFIX": "spw_",
}

REDIS_URL = env.redis_url()
Q_CLUSTER = env.q_cluster(
    REDIS_URL,
    workers=env.env_int("SPINWEB_WORKERS", 2, minimum=1, maximum=256),
    timeout=env.env_int("SPINWEB_TASK_TIMEOUT", 600, minimum=10, maximum=86_400),
    name=env.env_str("SPINWEB_QUEUE_NAME", "spinweb"),
)

# Pipeline engine: how long a worker's claim on a task lasts (a killed worker's task is taken
# over after this), how often each worker looks for due or orphaned tasks, and extra modules
# that register stage types (tests use this for a side-effect-counting stage).
SPINWEB_TASK_LEASE_SECONDS = env.env_int("SPINWEB_TASK_LEASE_SECONDS", 30, minimum=2, maximum=3600)
SPINWEB_SWEEP_SECONDS = env.env_int("SPINWEB_SWEEP_SECONDS", 1, minimum=1, maximum=60)
SPINWEB_EXTRA_STAGE_MODULES = env.env_list("SPINWEB_EXTRA_STAGE_MODULES", [])
# "queue" hands tasks to django-q2 workers; "none" leaves them for the caller (engine tests).
SPINWEB_ENGINE_DISPATCH = "queue"

# Triggers: the time zone of a cron trigger that names none, and the largest webhook payload
# accepted. Webhook stages may only call hosts on the allowlist: "*" means any host whose
# addresses are all public; loopback, private, link-local (cloud metadata) and other internal
# addresses are refused unless their host name, address or network (CIDR) is listed.
SPINWEB_CRON_TIME_ZONE = env.time_zone("SPINWEB_CRON_TIME_ZONE", "UTC")
SPINWEB_WEBHOOK_MAX_BYTES = env.env_int("SPINWEB_WEBHOOK_MAX_BYTES", 1_048_576, minimum=1024, maximum=64 * 1_048_576)
SPINWEB_WEBHOOK_ALLOWED_HOSTS = env.env_list("SPINWEB_WEBHOOK_ALLOWED_HOSTS", ["*"])

# The local provider: its supervisor keeps its state, control socket, logs and load balancer
# configs here, and instances and load balancers listen on loopback ports in this range.
SPINWEB_LOCAL_HOME = Path(env.env_str("SPINWEB_LOCAL_HOME", str(DATA_DIR / "local")))
SPINWEB_LOCAL_PORTS = env.port_range("SPINWEB_LOCAL_PORTS", "20000-29999")

# Where kubeconfig-context credential references are looked up.
SPINWEB_KUBECONFIG = env.env_str("SPINWEB_KUBECONFIG", env.env_str("KUBECONFIG", "~/.kube/config"))

# Canary metric sources: the Prometheus server queried by "prometheus" metrics, and the
# CloudWatch endpoint for "cloudwatch" metrics (empty: AWS's own; set it for a local stand-in).
SPINWEB_PROMETHEUS_URL = env.http_url("SPINWEB_PROMETHEUS_URL")
SPINWEB_CLOUDWATCH_ENDPOINT = env.http_url("SPINWEB_CLOUDWATCH_ENDPOINT")
SPINWEB_METRICS_TIMEOUT_SECONDS = env.env_int("SPINWEB_METRICS_TIMEOUT_SECONDS", 10, minimum=1, maximum=300)
# A canary interval is judged this many seconds after its window ends, so the last step's
# metrics have landed (a Prometheus scrape, the load balancer's last second).
SPINWEB_CANARY_METRICS_DELAY_SECONDS = env.env_int("SPINWEB_CANARY_METRICS_DELAY_SECONDS", 2, minimum=0, maximum=600)

# Policies: embedded Rego unless OPA_URL names an OPA server (then SPINWEB_OPA_TOKEN is its
# bearer token). A hook whose engine fails denies (fails closed) unless listed in
# SPINWEB_POLICY_FAIL_OPEN; the authz hook also skips the SPINWEB_POLICY_AUTHZ_EXEMPT path prefixes.
OPA_URL = env.opa_url()
SPINWEB_POLICY_ENGINE = "remote" if OPA_URL else "embedded"
SPINWEB_OPA_TOKEN = env.env_str("SPINWEB_OPA_TOKEN", "")
SPINWEB_POLICY_TIMEOUT_MS = env.env_int("SPINWEB_POLICY_TIMEOUT_MS", 2000, minimum=10, maximum=600_000)
SPINWEB_POLICY_FAIL_OPEN = env.policy_hooks("SPINWEB_POLICY_FAIL_OPEN")
SPINWEB_POLICY_AUTHZ_EXEMPT = env.path_prefixes("SPINWEB_POLICY_AUTHZ_EXEMPT")

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.env_choice("SPINWEB_LOG_LEVEL", "INFO", LOG_LEVELS)},
}
