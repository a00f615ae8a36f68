"""The web platform: the studio (pages and WebSocket chat) and the HTTP API under /api/v1."""
