"""What a remedy may change in a flow, and at what cost: declared once, here; a pack may override a cost.

Paths are the flow's field paths, items of a list named by the list (``payments.apr`` is the APR of any
payment); ``LIST.add`` and ``LIST.remove`` price adding or removing an item. A cost is a positive integer
(a remedy's cost is the sum over its operations); ``None`` means a remedy leaves the field as it is. Facts
about the person and the request (``fact``) never change, whatever a pack says. Shown by
``licit schema changes``; docs/remedies.md explains the choices.
"""
from __future__ import annotations

from rules.types import Change

__all__ = ["DEFAULT_CHANGES", "changes_document"]

_PERSON = "a fact about the applicant"
_REQUEST = "a fact about the request"
_VEHICLE = "a fact about the vehicle"


def _fact(note: str) -> Change:
    return Change(None, note, fact=True)


def _fixed(note: str) -> Change:
    return Change(None, note)


DEFAULT_CHANGES: dict[str, Change] = {
    "flow_id": _fact(_REQUEST), "requested_at": _fact(_REQUEST), "jurisdiction": _fact(_REQUEST),
    "channel.kind": Change(5, "sell through another channel (the insurer's own pages, an agent)"),
    "channel.platform_id": _fixed("the platform is who the flow is with"),
    "channel.platform_activities": Change(2, "the platform stops (or starts) doing some steps"),
    "channel.platform_licenses": _fixed("a licence is not obtained for one flow"),
    "channel.pilot_id": _fixed("joining a regulatory pilot is not a change to one flow"),
    "insurer.id": _fixed("the underwriting insurer is who the flow is with"),
    "insurer.branch_jurisdiction": Change(4, "underwrite through another branch of the insurer"),
    "applicant.name": _fact(_PERSON), "applicant.id_number": _fact(_PERSON), "applicant.phone": _fact(_PERSON),
    "applicant.age": _fact(_PERSON), "applicant.is_student": _fact(_PERSON),
    "applicant.real_name_verified": Change(3, "verify the applicant's identity before enrolling"),
    "vehicle.registration_jurisdiction": _fact(_VEHICLE), "vehicle.usage": _fact(_VEHICLE),
    "vehicle.new_energy": _fact(_VEHICLE),
    "vehicle.declared_usage": Change(1, "declare the vehicle's real usage"),
    "products.add": Change(8, "add a product (quote its premium: an added product copies the first one's)"),
    "products.remove": _fixed("a remedy changes how the products are sold and paid, not which are bought"),
    "products.kind": _fixed("a product is of the kind it is"),
    "products.premium": _fixed("the premium is the insurer's price"),
    "products.start_date": Change(2, "start the policy on another day"),
    "products.term_months": Change(2, "another policy term"),
    "products.pre_selected": Change(1, "let the applicant tick the product"),
    "products.pricing_factor": Change(2, "re-rate the commercial policy"),
    "payments.add": Change(3, "pay part of the premium separately (split a payment)"),
    "payments.remove": Change(3, "pay with one payment fewer"),
    "payments.covers": Change(1, "pay other products with this payment"),
    "payments.instrument": Change(3, "pay with another instrument"),
    "payments.provider": Change(1, "use another payment or credit provider"),
    "payments.premium_installments": Change(1, "the insurer receives the premium in other instalments"),
    "payments.credit_installments": Change(1, "the applicant repays the credit in other instalments"),
    "payments.apr": Change(2, "offer credit at another annualised rate"),
    "payments.apr_disclosed": Change(1, "show the annualised rate before the applicant commits"),
    "payments.settlement": Change(2, "settle with the insurer at another time"),
    "payments.payee": Change(2, "pay into another account"),
    "data_sharing.add": _fixed("a remedy does not share more personal data"),
    "data_sharing.remove": Change(3, "do not share this personal data"),
    "data_sharing.from": _fixed("who shares is what the sharing is"),
    "data_sharing.to": _fixed("who receives is what the sharing is"),
    "data_sharing.categories": Change(2, "share fewer (or other) categories of data"),
    "data_sharing.consent.obtained": Change(1, "ask the applicant's consent"),
    "data_sharing.consent.separate": Change(1, "ask the consent separately, not in general terms"),
    "data_sharing.consent.pre_checked": Change(1, "leave the consent box unticked"),
    "policy_issuance": Change(1, "issue the policy only once the premium is received"),
}


def changes_document(costs: dict[str, int | None] | None = None) -> dict[str, dict]:
    """The declaration as JSON: each path's cost (or why it never changes), with the given costs in force."""
    document = {}
    for path, change in DEFAULT_CHANGES.items():
        cost = change.cost if costs is None else costs[path]
        document[path] = {"cost": cost, "note": change.note} | ({"fact": True} if change.fact else {})
    return document
