"""How the UI and the API are served: loopback by default, any other address only with auth.

Shared by `assistant ui` (Gradio login, user:password), `assistant serve` (the OpenAI-compatible
API: a bearer key, or user:password sent as a bearer key or with HTTP Basic) and `assistant mcp
--http` (the MCP server, the same keys).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import ipaddress
from dataclasses import dataclass

from assistant.errors import ConfigError


def is_loopback(host: str) -> bool:
    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def parse_auth(auth: str | None, env: str = "ASSISTANT_UI_AUTH") -> tuple[str, str] | None:
    if not auth:
        return None
    user, sep, password = auth.partition(":")
    if not sep or not user or not password:
        raise ConfigError(
            "--auth must be given as user:password",
            f"for example --auth alice:long-secret (or set {env})",
        )
    return user, password


def refuse_open_host(host: str, secured: bool, what: str, env: str, how: str) -> None:
    """Anyone who can reach a non-loopback address could read the documents and conversations."""
    if not is_loopback(host) and not secured:
        raise ConfigError(
            f"Refusing to serve {what} on {host} without a password: anyone who can reach it "
            "could read the documents and conversations",
            f"pass --auth {how} (or set {env}), or keep the default --host 127.0.0.1",
        )


def check_serving(host: str, auth: str | None) -> tuple[str, str] | None:
    """The credentials to serve the UI with; refuses to expose it beyond loopback without them."""
    credentials = parse_auth(auth)
    refuse_open_host(host, credentials is not None, "the UI", "ASSISTANT_UI_AUTH",
                     "user:password")
    return credentials


@dataclass(frozen=True)
class ApiAuth:
    """The API's secret: a bare key, or user:password.

    The openai client sends `Authorization: Bearer <key>`, so the whole secret is accepted as a
    bearer token; user:password is also accepted as HTTP Basic (curl -u, a browser)."""

    secret: str

    @classmethod
    def parse(cls, auth: str | None, env: str = "ASSISTANT_SERVE_AUTH") -> ApiAuth | None:
        if not auth:
            return None
        user, sep, password = auth.partition(":")
        if any(ch.isspace() for ch in auth) or (sep and (not user or not password)):
            raise ConfigError(
                "--auth must be a key (no spaces) or user:password",
                "for example --auth \"$(openssl rand -hex 16)\" or --auth alice:long-secret "
                f"(or set {env})",
            )
        return cls(auth)

    @property
    def basic(self) -> bool:
        return ":" in self.secret

    def allows(self, header: str | None) -> bool:
        scheme, _, value = (header or "").strip().partition(" ")
        value = value.strip()
        if scheme.lower() == "bearer":
            given = value
        elif scheme.lower() == "basic" and self.basic:
            try:
                given = base64.b64decode(value, validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                return False
        else:
            return False
        return hmac.compare_digest(given.encode("utf-8"), self.secret.encode("utf-8"))

    @property
    def challenge(self) -> str:
        return 'Basic realm="article-assistant"' if self.basic else "Bearer"


def check_api_serving(host: str, auth: str | None, what: str = "the API",
                      env: str = "ASSISTANT_SERVE_AUTH") -> ApiAuth | None:
    """The API's auth (or the MCP server's); refuses to expose it beyond loopback without one."""
    api_auth = ApiAuth.parse(auth, env)
    refuse_open_host(host, api_auth is not None, what, env, "KEY or --auth user:password")
    return api_auth
