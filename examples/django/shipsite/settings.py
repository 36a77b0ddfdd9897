"""Settings for the Django example.

The platform (shipway or Platform.sh) describes the environment in variables
that exist only at run time: PLATFORM_ENVIRONMENT, PLATFORM_RELATIONSHIPS and
PLATFORM_ROUTES are absent while the build hook runs collectstatic. So this
file reads them only when PLATFORM_ENVIRONMENT is set, and otherwise falls
back to local-development values (DEBUG, a SQLite file) that are good enough
for collectstatic and for `manage.py runserver` on a laptop.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def platform_json(name: str) -> dict:
    """Decode one of the platform's base64-encoded JSON variables."""
    raw = os.environ.get(name)
    if not raw:
        raise ImproperlyConfigured(f"{name} is not set")
    return json.loads(base64.b64decode(raw))


def database_from_relationship(name: str) -> dict:
    """Django's DATABASES entry for one relationship of PLATFORM_RELATIONSHIPS.

    Each relationship is a list of endpoints; the first one is the primary.
    """
    relationships = platform_json("PLATFORM_RELATIONSHIPS")
    if name not in relationships:
        raise ImproperlyConfigured(
            f"no relationship '{name}' in PLATFORM_RELATIONSHIPS; "
            f"found: {', '.join(sorted(relationships)) or 'none'}"
        )
    endpoint = relationships[name][0]
    engines = {"pgsql": "postgresql", "postgresql": "postgresql", "mysql": "mysql"}
    try:
        engine = engines[endpoint["scheme"]]
    except KeyError:
        raise ImproperlyConfigured(
            f"relationship '{name}' has scheme '{endpoint['scheme']}', not a database"
        ) from None
    return {
        "ENGINE": f"django.db.backends.{engine}",
        "NAME": endpoint["path"],
        "USER": endpoint["username"],
        "PASSWORD": endpoint["password"] or "",
        "HOST": endpoint["host"],
        "PORT": str(endpoint["port"]),
        "CONN_MAX_AGE": 60,
    }


def route_hosts() -> list[str]:
    """Every host name PLATFORM_ROUTES serves (its keys are final URLs)."""
    if not os.environ.get("PLATFORM_ROUTES"):
        return []
    return sorted({urlsplit(url).hostname for url in platform_json("PLATFORM_ROUTES")} - {None})


# Set only at run time, on shipway and on Platform.sh alike.
ON_PLATFORM = bool(os.environ.get("PLATFORM_ENVIRONMENT"))

DEBUG = not ON_PLATFORM

# PLATFORM_PROJECT_ENTROPY is a random value fixed for the project's life.
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY") or os.environ.get("PLATFORM_PROJECT_ENTROPY")
if not SECRET_KEY:
    if ON_PLATFORM:
        raise ImproperlyConfigured("set DJANGO_SECRET_KEY or PLATFORM_PROJECT_ENTROPY")
    SECRET_KEY = "local-development-only"

if ON_PLATFORM:
    DATABASES = {"default": database_from_relationship("database")}
    # The router forwards only requests for the routes' hosts; localhost is
    # for checks made straight to the app's socket.
    ALLOWED_HOSTS = route_hosts() + ["localhost", "127.0.0.1"]
    # The router ends TLS and says so in this header.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
else:
    DATABASES = {
        "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": BASE_DIR / "db.sqlite3"}
    }
    ALLOWED_HOSTS = []

INSTALLED_APPS = [
    "django.contrib.staticfiles",
    "visits",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
]

ROOT_URLCONF = "shipsite.urls"
WSGI_APPLICATION = "shipsite.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
    }
]

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
TIME_ZONE = "UTC"

# collectstatic (build hook) copies into static/, which the router serves at
# /static (the "/static" location in .platform/pip.app.yaml).
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "static"

# Uploads go to the `media` mount: the app's own files are read-only at run time.
MEDIA_URL = "/media/"
MEDIA_ROOT = BASE_DIR / "media"

# Warnings and errors also go to the `logs` mount at run time. The file is
# opened on first use, so the build (which has no mounts) never touches it.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "INFO"},
}
if ON_PLATFORM:
    LOGGING["handlers"]["file"] = {
        "class": "logging.FileHandler",
        "filename": BASE_DIR / "logs" / "django.log",
        "delay": True,
        "level": "WARNING",
    }
    LOGGING["root"]["handlers"].append("file")
