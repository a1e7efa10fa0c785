"""Test certificates made with ``trustme``: a CA, a server certificate for the loopback
address, and client certificates whose subject common name is a charge point id (security
profile 3). Shared by the transport tests; nothing here touches the disk except trustme's own
temporary files."""

from __future__ import annotations

import ssl

import trustme

__all__ = ["TestPKI"]

SERVER_NAMES = ("127.0.0.1", "localhost")


class TestPKI:
    """One CA and the contexts both ends of a TLS connection need."""

    __test__ = False  # not a pytest test class, despite its name

    def __init__(self) -> None:
        self.ca = trustme.CA()
        self.server_cert = self.ca.issue_cert(*SERVER_NAMES)

    def server_context(self, *, client_certificates: bool = False) -> ssl.SSLContext:
        """A server context for 127.0.0.1/localhost.

        ``client_certificates`` asks for (but does not require) a client certificate signed by
        this CA, as security profile 3 needs (``ssl.CERT_OPTIONAL``: a profile 2 charge point
        on the same port sends none).
        """
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.server_cert.configure_cert(context)
        if client_certificates:
            context.verify_mode = ssl.CERT_OPTIONAL
            self.ca.configure_trust(context)
        return context

    def client_context(
        self, common_name: str | None = None, *, issuer: trustme.CA | None = None
    ) -> ssl.SSLContext:
        """A client context trusting this CA; with ``common_name``, it also presents a client
        certificate whose subject CN is ``common_name`` (issued by ``issuer``, default this
        CA)."""
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
        self.ca.configure_trust(context)
        if common_name is not None:
            cert = (issuer or self.ca).issue_cert(common_name=common_name)
            cert.configure_cert(context)
        return context
