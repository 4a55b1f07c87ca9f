"""The enrollment flow (input contract v1), validated strictly.

Unknown fields, wrong types, missing offsets and inconsistent payments are all
rejected with the path of the field, so a typo never weakens a check.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from enum import Enum
from typing import Annotated, Any

from pydantic import (AfterValidator, AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field,
                      StringConstraints, ValidationInfo, ValidatorFunctionWrapHandler, WrapValidator, field_validator)

from rules.schema import JURISDICTION_CODE
from rules.timestamps import DATE_EXAMPLE, TIMESTAMP_EXAMPLE, parse_date, parse_timestamp

__all__ = [
    "Applicant", "Channel", "ChannelKind", "Consent", "DataCategory", "DataSharing", "Flow", "Instrument",
    "Insurer", "Party", "Payee", "Payment", "PlatformActivity", "PlatformLicense", "PolicyIssuance", "Product",
    "ProductKind", "Settlement", "Vehicle", "VehicleUsage", "PERSONAL_FIELDS",
]

PERSONAL_FIELDS = ("name", "id_number", "phone")


class ChannelKind(str, Enum):
    insurer_direct = "insurer_direct"
    partner_platform = "partner_platform"
    agent = "agent"
    broker = "broker"


class PlatformActivity(str, Enum):
    display = "display"
    quote = "quote"
    recommend = "recommend"
    application_handling = "application_handling"
    premium_collection = "premium_collection"
    payment_processing = "payment_processing"
    credit_provision = "credit_provision"


class PlatformLicense(str, Enum):
    payment = "payment"
    consumer_credit = "consumer_credit"
    insurance_agency = "insurance_agency"
    insurance_brokerage = "insurance_brokerage"


class VehicleUsage(str, Enum):
    private = "private"
    commercial = "commercial"
    ride_hailing = "ride_hailing"


class ProductKind(str, Enum):
    ctpl = "ctpl"
    commercial = "commercial"


class Instrument(str, Enum):
    bank_card = "bank_card"
    debit_card = "debit_card"
    credit_card = "credit_card"
    consumer_credit = "consumer_credit"
    wallet = "wallet"


class Settlement(str, Enum):
    real_time = "real_time"
    t_plus_1 = "t_plus_1"
    deferred = "deferred"


class Payee(str, Enum):
    insurer_account = "insurer_account"
    platform_account = "platform_account"
    third_party_account = "third_party_account"


class Party(str, Enum):
    platform = "platform"
    insurer = "insurer"
    credit_provider = "credit_provider"


class DataCategory(str, Enum):
    identity = "identity"
    contact = "contact"
    vehicle = "vehicle"
    policy = "policy"
    financial_account = "financial_account"
    credit_history = "credit_history"


class PolicyIssuance(str, Enum):
    after_premium_received = "after_premium_received"
    before_premium_received = "before_premium_received"


def _unique(values: list) -> list:
    if len(set(values)) != len(values):
        raise ValueError("values must not repeat")
    return values


def _rfc3339(value: Any) -> Any:
    # pydantic's lax datetime parsing also takes numbers and "2026-01-01 10:00"; the contract says RFC 3339
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, str):
        return parse_timestamp(value)
    raise ValueError(f"expected an RFC 3339 timestamp with offset, like {TIMESTAMP_EXAMPLE}")


def _iso_date(value: Any) -> Any:
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    if isinstance(value, str):
        return parse_date(value)
    raise ValueError(f"expected a date like {DATE_EXAMPLE}")


def _decimal_places(value: Decimal) -> int:
    # from the digits, not normalize(): that rounds to 28 digits and would hide 950.000…0001
    _, digits, exponent = value.as_tuple()
    places = -exponent
    for digit in reversed(digits):
        if digit or places <= 0:
            break
        places -= 1
    return places


def _places(places: int):
    """Amounts carry a fixed precision (CNY to the fen, rates to 0.0001 %); more digits are a mistake.

    A Decimal (how engine.jsontext reads JSON numbers) is checked digit for digit before it
    becomes a float; a float is checked after the range and finiteness checks."""
    def check(value: Any, to_float: ValidatorFunctionWrapHandler) -> float:
        if isinstance(value, Decimal) and value.is_finite() and _decimal_places(value) > places:
            raise ValueError(f"has more than {places} decimal places")
        number = to_float(value)
        if round(number, places) != number:
            raise ValueError(f"has more than {places} decimal places")
        return number
    check.places = places  # engine.solver models a field by its precision
    return WrapValidator(check)


class _LaxEnum:
    """Enums are given as their string values (strict mode would want Enum instances)."""

    def __class_getitem__(cls, enum: type[Enum]) -> Any:
        return Annotated[enum, Field(strict=False)]


def _printable(value: str) -> str:
    if not value.isprintable():
        bad = next(char for char in value if not char.isprintable())
        raise ValueError(f"holds the character {bad!r} (U+{ord(bad):04X}); an identifier is printable text: "
                         f"no control characters (newline, escape, NUL …) and no whitespace other than a space")
    return value


Lax = _LaxEnum
Text = Annotated[str, StringConstraints(min_length=1, max_length=200)]
# the contract's identifiers (flow_id, platform_id, pilot_id, insurer id, payment provider): people read them
# in decisions, logs and tables, and the log's lookup columns must hold them whole (SQLite's JSON stops at NUL)
Identifier = Annotated[str, StringConstraints(min_length=1, max_length=128), AfterValidator(_printable)]
Code = Annotated[str, StringConstraints(pattern=rf"^{JURISDICTION_CODE}$")]
Timestamp = Annotated[AwareDatetime, BeforeValidator(_rfc3339), Field(strict=False)]
Day = Annotated[dt.date, BeforeValidator(_iso_date), Field(strict=False)]
Money = Annotated[float, Field(gt=0, le=10_000_000, allow_inf_nan=False), _places(2)]
Rate = Annotated[float, Field(ge=0, le=10, allow_inf_nan=False), _places(6)]
Factor = Annotated[float, Field(gt=0, le=10, allow_inf_nan=False), _places(4)]


class _Strict(BaseModel):
    # enum fields hold their plain string values: cheaper to read, and what rules compare with
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, use_enum_values=True)


class Channel(_Strict):
    kind: Lax[ChannelKind]
    platform_id: Identifier | None
    platform_activities: Annotated[list[Lax[PlatformActivity]], AfterValidator(_unique), Field(max_length=7)]
    platform_licenses: Annotated[list[Lax[PlatformLicense]], AfterValidator(_unique), Field(max_length=4)]
    pilot_id: Identifier | None


class Insurer(_Strict):
    id: Identifier
    branch_jurisdiction: Code


class Applicant(_Strict):
    name: Text
    id_number: Text
    phone: Text
    age: Annotated[int, Field(ge=0, le=130)]
    real_name_verified: bool
    is_student: bool


class Vehicle(_Strict):
    registration_jurisdiction: Code
    usage: Lax[VehicleUsage]
    declared_usage: Lax[VehicleUsage]
    new_energy: bool


class Product(_Strict):
    kind: Lax[ProductKind]
    premium: Money
    start_date: Day
    term_months: Annotated[int, Field(ge=1, le=12)]
    pre_selected: bool
    pricing_factor: Factor | None


class Payment(_Strict):
    covers: Annotated[list[Lax[ProductKind]], AfterValidator(_unique), Field(min_length=1, max_length=2)]
    instrument: Lax[Instrument]
    provider: Identifier | None
    premium_installments: Annotated[int, Field(ge=1, le=60)]
    credit_installments: Annotated[int, Field(ge=1, le=360)]
    apr: Rate | None
    apr_disclosed: bool
    settlement: Lax[Settlement]
    payee: Lax[Payee]


class Consent(_Strict):
    obtained: bool
    separate: bool
    pre_checked: bool


class DataSharing(_Strict):
    from_: Lax[Party] = Field(alias="from")
    to: Lax[Party]
    categories: Annotated[list[Lax[DataCategory]], AfterValidator(_unique), Field(min_length=1, max_length=6)]
    consent: Consent


class Flow(_Strict):
    """A proposed enrollment flow, as the enrollment service sends it."""

    flow_id: Identifier
    requested_at: Timestamp
    jurisdiction: Code
    channel: Channel
    insurer: Insurer
    applicant: Applicant
    vehicle: Vehicle
    products: Annotated[list[Product], Field(min_length=1, max_length=2)]
    payments: Annotated[list[Payment], Field(min_length=1, max_length=2)]
    data_sharing: Annotated[list[DataSharing], Field(max_length=50)]
    policy_issuance: Lax[PolicyIssuance]

    @field_validator("products")
    @classmethod
    def _one_product_per_kind(cls, products: list[Product]) -> list[Product]:
        kinds = [product.kind for product in products]
        if len(set(kinds)) != len(kinds):
            raise ValueError("each product kind may appear once")
        return products

    @field_validator("payments")
    @classmethod
    def _each_product_paid_once(cls, payments: list[Payment], info: ValidationInfo) -> list[Payment]:
        products = info.data.get("products")
        if products is None:  # already rejected; its own error says why
            return payments
        kinds = [product.kind for product in products]
        problems = [f"payments[{index}].covers: {kind} is not a product of this flow"
                    for index, payment in enumerate(payments) for kind in payment.covers if kind not in kinds]
        for kind in kinds:
            payers = [str(index) for index, payment in enumerate(payments) if kind in payment.covers]
            if len(payers) != 1:
                problems.append(f"the {kind} product is covered by "
                                + (f"payments {', '.join(payers)}" if payers else "no payment"))
        if problems:
            raise ValueError("; ".join(problems))
        return payments

    def payment_for(self, kind: ProductKind) -> Payment | None:
        return next((payment for payment in self.payments if kind in payment.covers), None)
