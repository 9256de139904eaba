"""The public form of an LLM endpoint URL: what may be stored in a cache file or printed in an error."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit


def public_url(url: str) -> str:
    """``url`` without userinfo, query string or fragment (they can carry keys: ``https://u:key@host/v1?key=…``).

    >>> public_url("https://user:secret@llm.example:8443/v1?api-key=abc#x")
    'https://llm.example:8443/v1'
    """
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname or ""
        port = parts.port
    except ValueError:  # an unparsable URL (e.g. a bad port): keep nothing that could be a secret
        return "<invalid endpoint URL>"
    if not parts.scheme or not host:
        return "<invalid endpoint URL>" if ("@" in url or "?" in url) else url.split("#", 1)[0]
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    netloc = f"{host}:{port}" if port is not None else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))
