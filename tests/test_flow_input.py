"""What a flow may say, beyond field types: identifiers stay in applicant, JSON text is read
without guesses (repeated keys, exact numbers), RFC 3339 only, and as_of as documented."""
import copy
import datetime as dt
import json

import pytest

from engine import Flow, FlowValidationError
from engine.identifiers import FREE_TEXT, values_outside_applicant
from tests.conftest import example

CN = dt.timezone(dt.timedelta(hours=8))


@pytest.fixture
def errors_of(shipped_engine):
    def errors(flow, **options) -> list[str]:
        with pytest.raises(FlowValidationError) as caught:
            shipped_engine.evaluate(flow, **options)
        return [str(error) for error in caught.value.errors]
    return errors


def changed(change) -> dict:
    flow = copy.deepcopy(example("baitiao-split-compliant"))  # 张三, 440301199001011234, 13800138000
    change(flow)
    return flow


# --- the applicant's identifiers appear only in applicant ---------------------------------------------

@pytest.mark.parametrize("change, expected", [
    (lambda f: f.update(flow_id="F-440301199001011234"),
     "flow_id: contains the applicant's id_number; personal identifiers may appear only in applicant.id_number"),
    (lambda f: f["channel"].update(platform_id="jd-13800138000"),
     "channel.platform_id: contains the applicant's phone"),
    (lambda f: f["channel"].update(pilot_id="pilot-张三"), "channel.pilot_id: contains the applicant's name"),
    (lambda f: f["insurer"].update(id="sunshine-张三"), "insurer.id: contains the applicant's name"),
    (lambda f: f["payments"][1].update(provider="baitiao:440301199001011234"),
     "payments[1].provider: contains the applicant's id_number"),
    (lambda f: (f["applicant"].update(phone="123456"), f["vehicle"].update(registration_jurisdiction="CN-123456")),
     "vehicle.registration_jurisdiction: contains the applicant's phone"),
    (lambda f: (f["applicant"].update(name="Li Wei"), f.update(flow_id="F-Li Wei-7")), "flow_id: contains the "
     "applicant's name"),
])
def test_identifiers_outside_applicant_are_refused_with_the_field(errors_of, shipped_engine, change, expected):
    """Without a log as with one: the log would refuse the record deep inside logging, and stop a batch."""
    assert shipped_engine.sink is None
    found = errors_of(changed(change))
    assert any(line.startswith(expected) for line in found), found


@pytest.mark.parametrize("change", [
    lambda f: f["applicant"].update(name="CN"),                                    # codes are not searched for names
    lambda f: (f["applicant"].update(name="Li"), f["insurer"].update(id="Lianhe-pc")),  # not a word of its own
    lambda f: (f["applicant"].update(name="Ma"), f.update(flow_id="F-Max-01")),
    lambda f: (f["applicant"].update(name="张"), f.update(flow_id="F-张-01")),         # one character: too common
    lambda f: (f["applicant"].update(phone="13800"), f.update(flow_id="F-13800-1")),  # shorter than 6: too common
    lambda f: f["applicant"].update(name="insurer"),                                # enum values are not searched
])
def test_ordinary_words_do_not_refuse_a_flow(shipped_engine, change):
    assert shipped_engine.evaluate(changed(change)).outcome == "allow"


def test_the_name_is_searched_in_every_free_text_field_and_numbers_in_every_value():
    """A free-text field added to the contract must be added to FREE_TEXT; every value is searched for numbers."""
    schema = Flow.model_json_schema(by_alias=True)

    def strings(node: dict, path: str):
        node = schema["$defs"][node["$ref"].split("/")[-1]] if "$ref" in node else node
        options = node.get("anyOf", [node])
        for option in options:
            option = schema["$defs"][option["$ref"].split("/")[-1]] if "$ref" in option else option
            if option.get("type") == "string" and not {"enum", "format", "pattern"} & set(option):
                yield path
            elif option.get("type") == "array":
                yield from strings(option["items"], path + "[]")
            for name, field in option.get("properties", {}).items():
                if name != "applicant":
                    yield from strings(field, f"{path}.{name}" if path else name)
    assert set(strings(schema, "")) == set(FREE_TEXT)
    flow = Flow.model_validate(example("baitiao-split-compliant"))
    paths = {path for path, _ in values_outside_applicant(flow)}
    assert {"flow_id", "products[0].premium", "payments[1].settlement", "requested_at",
            "data_sharing[0].consent.obtained"} <= paths and not any(path.startswith("applicant") for path in paths)


@pytest.mark.parametrize("change, expected", [
    # the id number is hashed upper-cased: its trailing x is the same identifier as X
    (lambda f: (f["applicant"].update(id_number="44030119900101123X"), f.update(flow_id="F-44030119900101123x")),
     "flow_id: contains the applicant's id_number"),
    (lambda f: (f["applicant"].update(id_number=" 44030119900101123X "), f.update(flow_id="F-44030119900101123X")),
     "flow_id: contains the applicant's id_number"),
    (lambda f: f.update(flow_id="F-４４０３０１１９９００１０１１２３４"),  # full-width digits
     "flow_id: contains the applicant's id_number"),
    # an identifier equal to a value no free text holds: the log would write it in clear all the same
    (lambda f: f["applicant"].update(phone="insurer_account"), "payments[0].payee: contains the applicant's phone"),
    (lambda f: f["applicant"].update(phone="2026-12-01"), "products[0].start_date: contains the applicant's phone"),
    (lambda f: f["applicant"].update(phone="3200.0"), "products[1].premium: contains the applicant's phone"),
    # characters JSON escapes: found all the same (the quick search of the flow's JSON text cannot see them)
    (lambda f: (f["applicant"].update(phone='138"0013\\8000'), f.update(flow_id='F-138"0013\\8000')),
     "flow_id: contains the applicant's phone"),
])
def test_identifiers_are_found_as_the_log_would_find_them(errors_of, change, expected):
    found = errors_of(changed(change))
    assert any(line.startswith(expected) for line in found), found


# --- identifiers are printable text (contract: enrollment-flow.md) -----------------------------------

@pytest.mark.parametrize("value", ["F-1\nDENY forged", "F-\x1b[2J", "F-1\x00", "F-\u202eevil", "F-1\t2", "F-\u3000"])
@pytest.mark.parametrize("field", ["flow_id", "channel.platform_id", "channel.pilot_id", "insurer.id",
                                   "payments[0].provider"])
def test_identifiers_with_control_characters_are_refused_with_their_field(errors_of, field, value):
    def put(flow):
        *parents, name = field.replace("[0]", ".0").split(".")
        target = flow
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        target[name] = value
    [error] = errors_of(changed(put))
    assert error.startswith(f"{field}: holds the character ") and "\n" not in error and "\x1b" not in error
    assert "an identifier is printable text" in error


def test_an_identifier_longer_than_the_contract_allows_is_refused(errors_of, shipped_engine):
    assert shipped_engine.evaluate(changed(lambda f: f.update(flow_id="F" * 128))).outcome == "allow"
    [error] = errors_of(changed(lambda f: f.update(flow_id="F" * 129)))
    assert error.startswith("flow_id: String should have at most 128 characters")


# --- numbers and keys no field can hold -------------------------------------------------------------

@pytest.mark.parametrize("literal", ["1e1000000000000000000", "-1e1000000000000000000", "1.5E+1000000000000000000"])
def test_a_number_past_what_a_decimal_holds_is_a_field_error(errors_of, literal):
    text = json.dumps(example("baitiao-split-compliant")).replace('"premium": 950.0', f'"premium": {literal}')
    assert errors_of(text) == [f"products[0].premium: the number {literal[:20]}... is out of range"]
    tiny = text.replace(literal, "1e-1000000000000000000")  # a decimal holds it: too precise for a premium
    assert errors_of(tiny) == ["products[0].premium: has more than 2 decimal places"]


@pytest.mark.parametrize("field", ["age", "name"])
def test_a_huge_integer_given_from_python_is_described_not_printed(errors_of, field):
    [error] = errors_of(changed(lambda f: f["applicant"].update({field: 10 ** 5000})))
    assert error.startswith(f"applicant.{field}: ") and len(error) < 200


def test_keys_and_values_are_shown_escaped_in_errors(errors_of):
    found = errors_of(changed(lambda f: (f.update({"note\n\x1b[31m": 1}),
                                         f["channel"].update(kind="agent\nALLOW"))))
    assert "note\\n\\x1b[31m: unknown field" in found
    assert any(line.startswith("channel.kind: Input should be") and line.endswith("(got 'agent\\nALLOW')")
               for line in found), found


# --- JSON text: repeated keys and exact numbers ---------------------------------------------------

def test_a_repeated_key_is_refused_not_last_one_wins(errors_of):
    text = json.dumps(example("baitiao-split-compliant")).replace(
        '"payee": "insurer_account"', '"payee": "platform_account", "payee": "insurer_account"', 1)
    assert errors_of(text) == ["payments[0].payee: appears more than once in its object; give each field once"]


def test_numbers_are_judged_as_written_with_their_field_path(errors_of):
    text = json.dumps(example("baitiao-split-compliant"))
    precise = text.replace('"premium": 950.0', '"premium": 950.000000000000000001')
    assert errors_of(precise) == ["products[0].premium: has more than 2 decimal places"]
    huge = text.replace('"age": 36', '"age": ' + "9" * 5000)
    assert errors_of(huge) == ["applicant.age: a number of 5000 digits is out of range"]


def test_exact_numbers_in_range_are_accepted(shipped_engine):
    text = json.dumps(example("baitiao-split-compliant")).replace('"premium": 950.0', '"premium": 950.10')
    assert shipped_engine.evaluate(text).outcome == "allow"


def test_only_the_contract_name_from_is_accepted(errors_of):
    def rename(flow):
        flow["data_sharing"][0]["from_"] = flow["data_sharing"][0].pop("from")
    found = errors_of(changed(rename))
    assert "data_sharing[0].from: required field is missing" in found
    assert any(line.startswith("data_sharing[0].from_: unknown field") for line in found), found


# --- RFC 3339 -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("path, value", [
    ("requested_at", "2026-11-24T10:15+08:00"),
    ("requested_at", "2026-11-24T10:15:00+0800"),
    ("requested_at", "2026-11-24 10:15:00+08:00"),
    ("requested_at", "2026-W48-2T10:15:00+08:00"),
    ("requested_at", "2026-11-24T10:15:00+08:00:30"),
    ("start_date", "1764547200"),
    ("start_date", "20261201"),
    ("start_date", "2026-12-01T00:00:00+08:00"),
])
def test_timestamps_and_dates_must_be_rfc_3339(errors_of, path, value):
    def put(flow):
        (flow if path == "requested_at" else flow["products"][0])[path] = value
    found = errors_of(changed(put))
    field = "requested_at" if path == "requested_at" else "products[0].start_date"
    assert found and all(line.startswith(f"{field}: expected") for line in found), found


@pytest.mark.parametrize("value", ["2026-11-24T10:15:00+08:00", "2026-11-24T02:15:00Z", "2026-11-24t02:15:00.5z"])
def test_rfc_3339_timestamps_are_accepted(shipped_engine, value):
    assert shipped_engine.evaluate(changed(lambda f: f.update(requested_at=value))).outcome == "allow"


def test_the_2000_2099_range_is_on_the_local_date(shipped_engine, errors_of):
    # (the shipped packs decide nothing before 2006, so the upper edge shows acceptance)
    last = shipped_engine.evaluate(changed(lambda f: f.update(requested_at="2099-12-31T15:59:59Z")))
    assert last.as_of == "2099-12-31T15:59:59+00:00"  # 23:59:59 in Beijing
    found = errors_of(changed(lambda f: f.update(requested_at="2099-12-31T16:00:00Z")))  # 2100-01-01 in Beijing
    assert found and found[0].startswith("requested_at: 2099-12-31T16:00:00+00:00 is outside 2000–2099"), found
    found = errors_of(changed(lambda f: f.update(requested_at="1999-12-31T15:59:59Z")))  # 23:59:59 in Beijing
    assert found and found[0].startswith("requested_at: 1999-12-31T15:59:59+00:00 is outside 2000–2099"), found


# --- as_of and Flow instances ---------------------------------------------------------------------

@pytest.mark.parametrize("as_of, message", [
    ("2021-01-01T00:00:00+08:00", "as_of: expected a datetime with a UTC offset or a date"),
    (dt.datetime(2021, 1, 1), "as_of: needs a UTC offset"),
    (dt.datetime(1999, 12, 31, 23, tzinfo=CN), "as_of: 1999-12-31T23:00:00+08:00 is outside 2000–2099"),
    (dt.date(1999, 12, 31), "as_of: 1999-12-31T12:00:00+08:00 is outside 2000–2099"),
])
def test_as_of_other_than_an_aware_datetime_is_a_field_error(errors_of, as_of, message):
    found = errors_of(example("baitiao-split-compliant"), as_of=as_of)
    assert len(found) == 1 and found[0].startswith(message), found


def test_as_of_a_date_is_noon_of_that_day_in_the_jurisdiction(shipped_engine):
    """A command's --as-of 2021-01-01 names the rules in force on that local day, as a scenario test's date does."""
    decision = shipped_engine.evaluate(example("baitiao-split-compliant"), as_of=dt.date(2021, 1, 1))
    assert decision.as_of == "2021-01-01T12:00:00+08:00"


def test_a_flow_model_is_validated_again(shipped_engine, errors_of):
    model = Flow.model_validate(example("baitiao-split-compliant"))
    assert shipped_engine.evaluate(model).outcome == "allow"
    assert errors_of(model.model_copy(update={"payments": []})) == [
        "payments: List should have at least 1 item after validation, not 0"]
    leaked = model.model_copy(update={"flow_id": "F-" + model.applicant.id_number})
    assert errors_of(leaked)[0].startswith("flow_id: contains the applicant's id_number")
