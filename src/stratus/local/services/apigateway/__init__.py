"""API Gateway: REST APIs (``gateway``) with their stage cache, throttling and figures."""
