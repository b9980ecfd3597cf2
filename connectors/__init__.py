"""Channels and the FastAPI gateway in front of Rasa."""
