"""Route modules: each one parses a request, calls the library, and shapes the response."""
