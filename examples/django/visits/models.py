from django.db import models


class Visit(models.Model):
    """One request to the home page, stored so the page can count them."""

    at = models.DateTimeField(auto_now_add=True)
    user_agent = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"visit {self.pk} at {self.at:%Y-%m-%d %H:%M:%S}"
