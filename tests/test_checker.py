"""Type checking against the flow vocabulary: every mistake is caught when rules load."""
import pytest

from engine.facts import flow_vocabulary
from rules.checker import check_condition
from rules.parser import parse
from rules.types import NUMBER, ListType, STRING

PARAMETERS = {"apr_review_threshold": NUMBER, "approved_pilots": ListType(STRING)}


def problems(text: str) -> list[tuple[int, str, str]]:
    _, errors = check_condition(parse(text), flow_vocabulary(), PARAMETERS)
    return [(error.pos, error.code, error.message) for error in errors]


@pytest.mark.parametrize("text", [
    'payment_for("ctpl").premium_installments > 1',
    'some p in payments satisfies p.instrument == "consumer_credit" and p.apr > params.apr_review_threshold',
    'every d in data_sharing satisfies d.consent.obtained',
    'some d in data_sharing satisfies "credit_history" in d.categories',
    'province(vehicle.registration_jurisdiction) != province(insurer.branch_jurisdiction)',
    'channel.pilot_id in params.approved_pilots',
    'channel.pilot_id == null or count(payments) > 1',
    'product("commercial").start_date >= date("2024-01-01")',
    'not applicant.real_name_verified',
    'applicant.age >= params.apr_review_threshold * 100 - 6',
    '"quote" not in channel.platform_activities',
])
def test_valid_conditions_check(text):
    assert problems(text) == []


@pytest.mark.parametrize("text, code, fragment", [
    ("applicant.agee < 18", "unknown_field", "did you mean 'age'"),
    ("aplicant.age < 18", "unknown_field", "did you mean 'applicant'"),
    ('applicant.name == "张三"', "personal_data", "personal identifier"),
    ('applicant.id_number == "1"', "personal_data", "personal identifier"),
    ('applicant.phone != "1"', "personal_data", "personal identifier"),
    ('vehicle.usage == "ridehailing"', "invalid_enum_value", "did you mean 'ride_hailing'"),
    ('vehicle.usage in ["private", "taxi"]', "invalid_enum_value", "'taxi'"),
    ("applicant.age > params.apr_review_thresold", "undefined_parameter", "did you mean 'apr_review_threshold'"),
    ('applicant.age > "18"', "type_error", "compares numbers"),
    ("applicant.age", "type_error", "true or false"),
    ("applicant.age == null", "type_error", "never null"),
    ('pament_for("ctpl").apr > 1', "unknown_function", "did you mean 'payment_for'"),
    ('payment_for("life").apr > 1', "type_error", "takes one of"),
    ('some p in payments satisfies p.apr > p.premium_installments', "unsupported_condition", "two fields"),
    ('some p in payments satisfies p.apr * 2 > 1', "unsupported_condition", "alone on one side"),
    ("applicant.age + 1 > applicant.age * 2", "unsupported_condition", "single field"),
    ('some p in payments satisfies some q in products satisfies q.premium > p.apr', "unsupported_condition", "outer"),
    ('product("ctpl").start_date > date("2024-13-01")', "invalid_date", "not a date"),
    ("applicant.age / 0 > 1", "type_error", "division by zero"),
])
def test_errors_are_caught_with_a_code(text, code, fragment):
    found = problems(text)
    assert found, f"{text!r} should not check"
    assert found[0][1] == code
    assert fragment in found[0][2]


def test_every_error_in_a_condition_is_reported_in_order():
    found = problems('applicant.agee < 18 or vehicle.usage == "taxi" or applicant.name == "x"')
    assert [code for _, code, _ in found] == ["unknown_field", "invalid_enum_value", "personal_data"]
    assert [pos for pos, _, _ in found] == sorted(pos for pos, _, _ in found)
