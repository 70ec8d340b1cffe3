"""`make bench`: speed, memory and NLU quality, each side by side with a baseline in one run."""
