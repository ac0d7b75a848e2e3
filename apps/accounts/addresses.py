"""The client's address of a web request, the same for login throttling (axes) and the audit chain.

Behind a TLS-terminating proxy (docker/compose.yaml) REMOTE_ADDR is the proxy's address. With
ARCHIVE_TRUSTED_PROXIES = N, the client is the N-th address from the right of X-Forwarded-For
(each trusted proxy appends the address it received from); 0 means REMOTE_ADDR as it is. Never
trust more proxies than there are: the left of the header is whatever the client sent.
"""

from __future__ import annotations

from django.conf import settings


def client_address(request) -> str:
    remote = request.META.get("REMOTE_ADDR", "") or ""
    proxies = settings.ARCHIVE_TRUSTED_PROXIES
    if proxies <= 0:
        return remote
    forwarded = [a.strip() for a in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if a.strip()]
    return forwarded[-proxies] if len(forwarded) >= proxies else remote
