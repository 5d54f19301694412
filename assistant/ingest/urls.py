"""URL normalisation: which URL to request, and which key identifies a page.

Pure functions; `FetchError` for anything that is not a full http(s) URL.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from assistant.errors import FetchError

SCHEMES = ("http", "https")
TRACKING_PARAMS = {
    "fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "igshid",
    "mc_cid", "mc_eid", "_ga", "_gl", "_hsenc", "_hsmi", "mkt_tok",
}


def _split_http(url: str) -> Any:
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise FetchError(
            f"not an http(s) URL (scheme '{scheme or 'none'}')",
            "only http:// and https:// pages can be fetched; give files as paths instead",
        )
    if not parts.hostname:
        raise FetchError(f"URL has no host: {url[:200]}", "give a full URL like https://host/path")
    return parts


def clean_url(url: str) -> str:
    """The URL to request: lower-case scheme and host, no default port, no fragment, no
    tracking parameters. Path and the remaining query are kept as given, since servers may
    treat `/a` and `/a/` differently."""
    parts = _split_http(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower().rstrip(".")
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError as e:
        raise FetchError(f"URL has a bad port: {url[:200]}", "check the URL") from e
    default_port = {"http": 80, "https": 443}[scheme]
    netloc = host if port is None or port == default_port else f"{host}:{port}"
    query = [
        (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not (k.lower().startswith("utm_") or k.lower() in TRACKING_PARAMS)
    ]
    path = re.sub(r"%[0-9a-fA-F]{2}", lambda m: m.group(0).upper(), parts.path or "/")
    return urlunsplit((scheme, netloc, path, urlencode(query), ""))


def normalise_url(url: str) -> str:
    """The identity of a page: `clean_url` plus no trailing slash and sorted query parameters,
    so the same page reached by two spellings has one key."""
    parts = urlsplit(clean_url(url))
    path = parts.path.rstrip("/") or "/"
    query = urlencode(sorted(parse_qsl(parts.query, keep_blank_values=True)))
    return urlunsplit((parts.scheme, parts.netloc, path, query, ""))


def site_of(url: str) -> str:
    """Host without `www.` and port: `--same-site` compares these."""
    host = (urlsplit(url).hostname or "").lower().rstrip(".")
    return host[4:] if host.startswith("www.") else host



def origin_of(url: str) -> str:
    """`scheme://host[:port]`: what robots.txt and the per-host delay are kept per."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
