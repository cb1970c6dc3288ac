"""The HTTP edge: redirects, postbacks, pixel, event pipeline."""
