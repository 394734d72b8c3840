"""The access decision: one pure function, :func:`decide`, for every route and resource.

=============  ===========  ===========================  =====================  ==============
sharing        public       signed-in department         grant holder           owner / admin
=============  ===========  ===========================  =====================  ==============
open           yes          yes                          yes                    yes
unconditional  no (401)     yes                          yes                    yes
conditional    no (401)     no (403)                     yes while it is valid  yes
none           no (401)     no (403)                     no (403)               yes
=============  ===========  ===========================  =====================  ==============

The owning department sees every field in clear.  Everyone else, administrators included,
sees a resource's sensitive fields masked (:mod:`spatialsvc.auth.mask`) unless a grant they
hold lists the field; a sensitive field without a mask is left out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from spatialsvc.auth.grants import Grant
from spatialsvc.auth.mask import MASKS, SENSITIVE_DEFAULT, mask_value
from spatialsvc.auth.principal import Principal
from spatialsvc.layers import Layer, Sharing


@dataclass(frozen=True)
class Resource:
    """What the policy needs to know of a served resource (a layer, a catalogue record)."""

    id: str
    department: str
    sharing: Sharing
    fields: tuple[str, ...] = ()
    sensitive: frozenset[str] = frozenset()


def resource_from_layer(layer: Layer, sensitive: Iterable[str] | None = None) -> Resource:
    """The policy's view of a published layer.

    ``sensitive`` names the layer's sensitive fields; by default a layer marked ``sensitive``
    in its file says so, else the default sensitive names (``name``, ``id_number``, ``phone``,
    ``household_address``) count for conditional and unshared layers only.  An open or
    unconditional layer is published whole by its owner's choice: its ``name`` is a road's or
    a compound's, not a person's.
    """
    declared = sensitive if sensitive is not None else getattr(layer, "sensitive", None)
    if declared is not None:
        marked = frozenset(declared)
    elif layer.sharing in ("conditional", "none"):
        marked = SENSITIVE_DEFAULT
    else:
        marked = frozenset()
    return Resource(
        id=layer.id,
        department=layer.department.code,
        sharing=layer.sharing,
        fields=tuple(layer.fields),
        sensitive=marked & frozenset(layer.fields),
    )


def resources_from_layers(layers: Mapping[str, Layer]) -> dict[str, Resource]:
    """Every layer's :class:`Resource`, by id."""
    return {key: resource_from_layer(layer) for key, layer in layers.items()}


@dataclass(frozen=True)
class Decision:
    """The answer for one caller and one resource.

    ``fields_visible`` are the fields the caller gets (masked ones included, left-out ones
    not); ``masked_fields`` those of them whose values must go through :meth:`apply`.
    ``status`` is the HTTP status a refusal maps to (401: sign in; 403: not allowed).
    """

    allowed: bool
    reason: str
    fields_visible: tuple[str, ...] = ()
    masked_fields: frozenset[str] = frozenset()
    status: int = 200
    grant_ids: tuple[int, ...] = ()

    def apply(self, properties: Mapping[str, Any]) -> dict[str, Any]:
        """One feature's properties as this caller may see them (``{}`` when refused)."""
        if not self.allowed:
            return {}
        masked = self.masked_fields
        out: dict[str, Any] = {}
        for key in self.fields_visible:
            if key in properties:
                value = properties[key]
                out[key] = mask_value(key, value) if key in masked else value
        return out


def _deny(principal: Principal, why: str) -> Decision:
    if principal.is_public:
        return Decision(False, f"{why}: sign in with an API key or a bearer token", status=401)
    return Decision(False, why, status=403)


def _allow(
    resource: Resource,
    reason: str,
    clear: frozenset[str] | None,
    grant_ids: tuple[int, ...] = (),
) -> Decision:
    hidden = frozenset() if clear is None else resource.sensitive - clear
    left_out = frozenset(f for f in hidden if f not in MASKS)
    visible = tuple(f for f in resource.fields if f not in left_out)
    return Decision(True, reason, visible, hidden - left_out, 200, grant_ids)


def decide(
    principal: Principal,
    resource: Resource,
    grants: Iterable[Grant] = (),
    now: datetime | None = None,
) -> Decision:
    """May ``principal`` read ``resource``, and which fields in clear?

    ``grants`` are the caller's grants (from :func:`spatialsvc.auth.grants.grants_for`); only
    those for this resource and department whose period covers ``now`` count.  Pure: no
    database, no settings.
    """
    sharing = resource.sharing
    if principal.department is not None and principal.department == resource.department:
        return _allow(resource, "owning department", None)
    if sharing == "open":
        return _allow(resource, "open resource", frozenset())
    if principal.is_public:
        return _deny(principal, f"{resource.id} is not open")
    if sharing == "unconditional":
        return _allow(resource, "shared with every department", frozenset())
    if principal.is_admin:
        return _allow(resource, "administrator", frozenset())
    if sharing == "none":
        return _deny(principal, f"{resource.id} is not shared outside its department")
    now = now or datetime.now(UTC)
    mine = [g for g in grants if g.resource == resource.id and g.department == principal.department]
    current = [g for g in mine if g.covers(now)]
    if not current:
        if any(g.valid_until <= now for g in mine):
            return _deny(principal, f"the application for {resource.id} has expired")
        return _deny(principal, f"{resource.id} needs an approved application")
    clear: frozenset[str] = frozenset()
    for g in current:
        clear |= g.fields or frozenset()
    return _allow(resource, "approved application", clear, tuple(g.application_id for g in current))


def metadata_visible(principal: Principal, resource: Resource) -> bool:
    """May the caller see that the resource exists (its catalogue record, not its data)?

    Open: everyone.  Unconditional and conditional: any department (so that they can apply).
    None: the owner and administrators.
    """
    if resource.sharing == "open":
        return True
    if principal.is_public:
        return False
    if resource.sharing == "none":
        return principal.is_admin or principal.department == resource.department
    return True
