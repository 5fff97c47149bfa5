"""An alert's change of state POSTed to a URL the user configures, safely.

- Only ``https://``; the host's addresses are resolved once and every one must be a public
  or private unicast address: never loopback, link-local (which holds the clouds' metadata
  services at 169.254.169.254), unspecified, multicast or reserved, nor a known metadata
  name or address. The connection then goes to the address that was checked (the TLS
  handshake still names and verifies the host), so a DNS answer that changes between the
  check and the request cannot redirect it.
- Signed: ``X-Mlops-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`` with
  the shared secret read from the environment variable the configuration names, so the
  receiver can check the sender and refuse replays.
- Retried with exponential backoff (1 s, 2 s, 4 s, ...) on connection errors, 5xx and 429;
  a 4xx is final. Redirects are not followed. The outcome (status, attempts, error) is
  returned for the store to keep.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import ipaddress
import json
import os
import socket
import ssl
import time
import urllib.parse
from collections.abc import Callable
from typing import Any, Final

from ..client.monitor_config import WebhookConfig
from ..exceptions import InvalidInput, shown

__all__ = ["check_target", "deliver", "signature"]

METADATA_NAMES: Final = frozenset(
    {"metadata.google.internal", "metadata.goog", "metadata", "instance-data", "metadata.azure.com"}
)
METADATA_ADDRESSES: Final = frozenset(
    {
        ipaddress.ip_address("169.254.169.254"),
        ipaddress.ip_address("169.254.170.2"),
        ipaddress.ip_address("100.100.100.200"),
        ipaddress.ip_address("fd00:ec2::254"),
    }
)
BACKOFF_S: Final = 1.0


def _forbidden(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return _forbidden(address.ipv4_mapped)
    if address in METADATA_ADDRESSES:
        return "a cloud metadata address"
    for test, what in (
        (address.is_loopback, "a loopback address"),
        (address.is_link_local, "a link-local address"),
        (address.is_unspecified, "an unspecified address"),
        (address.is_multicast, "a multicast address"),
        (address.is_reserved, "a reserved address"),
    ):
        if test:
            return what
    return None


def check_target(
    url: str, resolve: Callable[[str, int], list[str]] | None = None
) -> tuple[str, int, str, str]:
    """(host, port, path, the address to connect to) of an allowed webhook URL.

    Raises:
        InvalidInput: not https, no host, a metadata name, or any of the host's addresses
            is one the webhook may not reach.
    """
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme.lower() != "https" or not parsed.hostname:
        raise InvalidInput(f"A webhook must be an https:// URL with a host, not {shown(url)}.")
    host = parsed.hostname.rstrip(".").lower()
    if host in METADATA_NAMES or host.endswith(".internal"):
        raise InvalidInput(f"A webhook may not call {shown(host)}: a metadata service's name.")
    try:
        port = parsed.port or 443
    except ValueError as exc:
        raise InvalidInput(f"The webhook URL's port is not a number: {shown(url)}.") from exc
    lookup = resolve or _resolve
    try:
        addresses = lookup(host, port)
    except OSError as exc:
        raise InvalidInput(f"The webhook's host {shown(host)} does not resolve: {exc}") from exc
    if not addresses:
        raise InvalidInput(f"The webhook's host {shown(host)} has no address.")
    for text in addresses:
        reason = _forbidden(ipaddress.ip_address(text.split("%", 1)[0]))
        if reason is not None:
            raise InvalidInput(f"A webhook may not call {shown(host)}: {text} is {reason}.")
    path = parsed.path or "/"
    if parsed.query:
        path += "?" + parsed.query
    return host, port, path, addresses[0]


def _resolve(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def signature(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


class _Pinned(http.client.HTTPSConnection):
    """HTTPS to a checked address, with the host's name for SNI and certificate checks."""

    def __init__(self, host: str, port: int, address: str, timeout: float, context: ssl.SSLContext):
        super().__init__(host, port, timeout=timeout, context=context)
        self._address = address
        self._tls = context

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._tls.wrap_socket(sock, server_hostname=self.host)


def deliver(
    config: WebhookConfig,
    payload: dict[str, Any],
    *,
    resolve: Callable[[str, int], list[str]] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """POST ``payload`` as JSON; the outcome: ``{at, status, attempts, error}`` (``status``:
    the last HTTP status, None when no answer came)."""
    outcome: dict[str, Any] = {"at": int(time.time() * 1000), "status": None, "attempts": 0}
    try:
        host, port, path, address = check_target(config.url, resolve)
    except InvalidInput as exc:
        outcome["error"] = exc.message
        return outcome
    body = json.dumps(payload, allow_nan=False, default=str).encode()
    context = ssl.create_default_context(cafile=config.ca_file)
    secret = os.environ.get(config.secret_env, "") if config.secret_env else ""
    if config.secret_env and not secret:
        outcome["error"] = (
            f"{config.secret_env} is not set where the alerts are evaluated: nothing was sent "
            "unsigned."
        )
        return outcome
    for attempt in range(config.retries + 1):
        if attempt:
            sleep(BACKOFF_S * 2 ** (attempt - 1))
        outcome["attempts"] = attempt + 1
        headers = {"Content-Type": "application/json", "User-Agent": "jupyter-mlops"}
        if secret:
            headers["X-Mlops-Signature"] = signature(secret, int(time.time()), body)
        connection = _Pinned(host, port, address, config.timeout_s, context)
        try:
            connection.request("POST", path, body=body, headers=headers)
            status = connection.getresponse().status
        except (OSError, http.client.HTTPException) as exc:
            outcome["status"], outcome["error"] = None, f"{type(exc).__name__}: {exc}"
            continue
        finally:
            connection.close()
        outcome["status"] = status
        if 200 <= status < 300:
            outcome.pop("error", None)
            return outcome
        outcome["error"] = f"the receiver answered {status}"
        if 400 <= status < 500 and status != 429:
            return outcome
    return outcome
