"""The condition parser: precedence, quantifiers, and errors that point at the offending character."""
import pytest

from rules.parser import MAX_DEPTH, MAX_LENGTH, ParseError, parse
from rules.syntax import Attribute, Binary, Call, Literal, Quantifier, Unary


def test_and_binds_tighter_than_or():
    expr = parse("a.x == 1 or a.y == 2 and a.z == 3")
    assert expr.op == "or" and expr.right.op == "and"


def test_arithmetic_precedence_and_unary_minus():
    expr = parse("a.x > -1 + 2 * 3")
    assert expr.op == ">"
    assert expr.right.op == "+" and isinstance(expr.right.left, Unary) and expr.right.right.op == "*"


def test_quantifier_body_extends_to_the_end_unless_parenthesised():
    greedy = parse("some p in payments satisfies p.a == 1 and p.b == 2")
    assert isinstance(greedy, Quantifier) and greedy.body.op == "and"
    bounded = parse("(some p in payments satisfies p.a == 1) and x.b == 2")
    assert isinstance(bounded, Binary) and isinstance(bounded.left, Quantifier)


def test_not_in_and_calls_with_attributes():
    expr = parse('"quote" not in channel.platform_activities and payment_for("ctpl").apr == null')
    assert expr.left.op == "not in"
    attribute = expr.right.left
    assert isinstance(attribute, Attribute) and isinstance(attribute.base, Call)
    assert attribute.base.args == (Literal("ctpl", 59),)
    assert expr.right.right == Literal(None, expr.right.right.pos)


@pytest.mark.parametrize("text, position, fragment", [
    ("applicant.age = 18", 14, "use =="),
    ("applicant.age > ", 16, "expected a value"),
    ('vehicle.usage == "private', 17, "unterminated string"),
    ("a.b == 1 c.d == 2", 9, "missing 'and'/'or'"),
    ("some p payments satisfies p.x", 7, "expected 'in'"),
    ("(a.b == 1", 9, "expected ')'"),
    ("a.b == 1 $", 9, "unexpected character"),
])
def test_errors_name_the_offset(text, position, fragment):
    with pytest.raises(ParseError) as caught:
        parse(text)
    assert caught.value.pos == position
    assert fragment in caught.value.message


def test_limits_on_length_and_depth():
    with pytest.raises(ParseError) as too_long:
        parse("a.b == 1 and " * (MAX_LENGTH // 10) + "a.b == 1")
    assert too_long.value.code == "expression_too_long"
    with pytest.raises(ParseError) as too_deep:
        parse("(" * (MAX_DEPTH + 1) + "a.b" + ")" * (MAX_DEPTH + 1))
    assert too_deep.value.code == "expression_too_deep"
    with pytest.raises(ParseError) as nots:
        parse("not " * (MAX_DEPTH + 1) + "a.b")
    assert nots.value.code == "expression_too_deep"


@pytest.mark.parametrize("hostile", ["__import__('os').system('true')", "lambda: 1", "[x for x in y]", "a; b"])
def test_python_that_would_run_code_does_not_parse(hostile):
    with pytest.raises(ParseError):
        parse(hostile)
