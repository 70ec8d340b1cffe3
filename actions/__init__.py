"""Custom actions of the clinic assistant, run by the rasa_sdk action server (`rasa run actions`)."""
