"""Who is calling: a department with a role, or the public."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Role = Literal["admin", "publisher", "consumer", "public"]
KEY_ROLES: tuple[str, ...] = ("admin", "publisher", "consumer")


@dataclass(frozen=True)
class Principal:
    """The caller of one request.

    ``department`` is None only for the public.  ``key_id`` names the API key the caller
    presented (or the key a service token was issued for); ``subject`` is an external
    issuer's ``sub`` for OIDC tokens.
    """

    department: str | None
    role: Role
    key_id: str | None = None
    subject: str | None = None

    @property
    def is_public(self) -> bool:
        """True for a caller without credentials."""
        return self.department is None

    @property
    def is_admin(self) -> bool:
        """True for the platform's administrators."""
        return self.role == "admin" and self.department is not None

    @property
    def who(self) -> str:
        """A short, stable name for logs and the audit: ``key:ID``, ``oidc:SUB`` or ``public``."""
        if self.key_id:
            return f"key:{self.key_id}"
        if self.subject:
            return f"oidc:{self.subject}"
        return "public"


PUBLIC = Principal(department=None, role="public")
