"""PHP as Platform.sh runs it (C6): PHP-FPM pools, ini settings, extensions."""
