"""shipway: git push to a running app, reading Platform.sh / Upsun configuration."""
