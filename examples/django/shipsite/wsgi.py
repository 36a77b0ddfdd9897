"""The WSGI application gunicorn serves (`gunicorn shipsite.wsgi`)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shipsite.settings")

application = get_wsgi_application()
