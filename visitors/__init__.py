"""What the servers need to know about a visitor's requests: the client address behind a
trusted proxy, and limits on how many requests one visitor may make in a time window. Shared
by the REST channel (Rasa server), the callback form (action server) and the console."""
