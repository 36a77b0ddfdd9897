"""Three views: a page that writes to the database, its count as JSON, a health check."""

import os

from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from .models import Visit


def database_info() -> dict:
    settings = connection.settings_dict
    return {"vendor": connection.vendor, "name": str(settings["NAME"]), "host": settings["HOST"]}


def index(request: HttpRequest) -> HttpResponse:
    """Record this visit, then show how many there have been."""
    Visit.objects.create(user_agent=request.headers.get("User-Agent", "")[:200])
    context = {
        "count": Visit.objects.count(),
        "recent": Visit.objects.all()[:5],
        "database": database_info(),
        "branch": os.environ.get("PLATFORM_BRANCH", "local"),
    }
    return render(request, "visits/index.html", context)


def visits(request: HttpRequest) -> JsonResponse:
    """The count without adding to it, for scripts and tests."""
    return JsonResponse({"visits": Visit.objects.count(), "database": database_info()})


def health(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok\n", content_type="text/plain")
