from django.urls import path

from visits import views

urlpatterns = [
    path("", views.index, name="index"),
    path("visits", views.visits, name="visits"),
    path("health", views.health, name="health"),
]
