"""DevSkyy project package: settings, URLs, ASGI/WSGI entry points and the shared core."""
