"""Custom Rasa NLU components of the clinic assistant (referenced from config.yml)."""
