"""Visitors on loopback addresses: a requests session that connects from 127.0.0.x, so that
servers, and nginx in front of them, see each such session as another visitor.

    from tests.loopback import visitor
    visitor("127.0.0.2").post(url, json=...)
"""
import requests
from requests.adapters import HTTPAdapter


class FromAddress(HTTPAdapter):
    """Connects from a given local address (127.0.0.x)."""

    def __init__(self, source: str):
        self.source = source
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):
        kwargs["source_address"] = (self.source, 0)
        super().init_poolmanager(*args, **kwargs)


def visitor(source: str) -> requests.Session:
    session = requests.Session()
    session.mount("http://", FromAddress(source))
    return session
