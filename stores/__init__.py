"""Rasa tracker stores of the clinic assistant (named in endpoints.yml)."""
