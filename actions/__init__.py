"""小申's Rasa SDK action server."""
