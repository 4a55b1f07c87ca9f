"""A hand-written recursive-descent parser for conditions. Rule text is never evaluated.

Grammar (lowest precedence first)::

    expr        := quantifier | or
    quantifier  := ("some" | "every") NAME "in" postfix "satisfies" expr
    or          := and ("or" and)*
    and         := not ("and" not)*
    not         := "not" not | quantifier | comparison
    comparison  := sum (("==" | "!=" | "<" | "<=" | ">" | ">=" | "in" | "not" "in") sum)?
    sum         := product (("+" | "-") product)*
    product     := unary (("*" | "/") unary)*
    unary       := "-" unary | postfix
    postfix     := primary ("." NAME)*
    primary     := NUMBER | STRING | true | false | null | "[" [expr ("," expr)*] "]"
                 | NAME "(" [expr ("," expr)*] ")" | NAME | "(" expr ")"

A condition nests at most MAX_DEPTH levels: each parenthesis, quantifier, ``not`` and unary ``-``
opens one, and so does each ``+ - * /`` and ``.`` of a chain (``a + b + c`` builds ``(a + b) + c``).
An ``and``/``or`` chain is one level however long. Every walker of a condition may then recurse.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from rules.ir import finite
from rules.syntax import Attribute, Binary, Call, Expr, ListLiteral, Literal, Name, Quantifier, Unary

__all__ = ["ParseError", "parse", "MAX_LENGTH", "MAX_DEPTH"]

MAX_LENGTH = 4000
MAX_DEPTH = 40
KEYWORDS = {"and", "or", "not", "in", "some", "every", "satisfies", "true", "false", "null"}
_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<number>\d+(\.\d+)?([eE][+-]?\d+)?)
  | (?P<string>"([^"\\\n]|\\["\\])*"|'([^'\\\n]|\\['\\])*')
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>==|!=|<=|>=|<|>|\+|-|\*|/|\(|\)|\[|\]|,|\.)
""", re.VERBOSE)


class ParseError(Exception):
    def __init__(self, pos: int, code: str, message: str):
        super().__init__(message)
        self.pos, self.code, self.message = pos, code, message


@dataclass(frozen=True)
class Token:
    kind: str  # number string name op keyword end
    text: str
    pos: int


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            if text[pos] in "\"'":
                raise ParseError(pos, "parse_error", "unterminated string")
            hint = " (use == to compare)" if text[pos] == "=" else ""
            raise ParseError(pos, "parse_error", f"unexpected character {text[pos]!r}{hint}")
        kind = match.lastgroup
        if kind != "space":
            word = match.group()
            if kind == "name" and word in KEYWORDS:
                kind = "keyword"
            tokens.append(Token(kind, word, pos))
        pos = match.end()
    tokens.append(Token("end", "", len(text)))
    return tokens


def parse(text: str) -> Expr:
    """Parse a condition; raise :class:`ParseError` with the offending offset."""
    if len(text) > MAX_LENGTH:
        raise ParseError(MAX_LENGTH, "expression_too_long",
                         f"condition is {len(text)} characters; the limit is {MAX_LENGTH}")
    parser = _Parser(tokenize(text))
    expr = parser.expr()
    parser.expect_end()
    return expr


class _Parser:
    def __init__(self, tokens: list[Token]):
        self.tokens = tokens
        self.index = 0
        self.depth = 0

    @property
    def token(self) -> Token:
        return self.tokens[self.index]

    def advance(self) -> Token:
        token = self.token
        self.index += 1
        return token

    def at(self, *texts: str) -> bool:
        return self.token.kind in ("op", "keyword") and self.token.text in texts

    def expect(self, text: str, what: str) -> Token:
        if not self.at(text):
            raise ParseError(self.token.pos, "parse_error", f"expected {what}, found {self._found()}")
        return self.advance()

    def expect_end(self) -> None:
        if self.token.kind != "end":
            raise ParseError(self.token.pos, "parse_error", f"unexpected {self._found()} (missing 'and'/'or'?)")

    def _found(self) -> str:
        return "end of condition" if self.token.kind == "end" else repr(self.token.text)

    def _nest(self, pos: int | None = None) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ParseError(self.token.pos if pos is None else pos, "expression_too_deep",
                             f"condition nests deeper than {MAX_DEPTH} levels")

    def expr(self) -> Expr:
        self._nest()
        try:
            if self.at("some", "every"):
                return self.quantifier()
            return self.or_()
        finally:
            self.depth -= 1

    def quantifier(self) -> Expr:
        start = self.advance()
        if self.token.kind != "name":
            raise ParseError(self.token.pos, "parse_error", f"expected a variable name after {start.text!r}")
        variable = self.advance().text
        self.expect("in", f"'in' after '{start.text} {variable}'")
        collection = self.postfix()
        self.expect("satisfies", "'satisfies' before the condition on each item")
        return Quantifier(start.text, variable, collection, self.expr(), start.pos)

    def or_(self) -> Expr:
        left = self.and_()
        while self.at("or"):
            token = self.advance()
            left = Binary("or", left, self.and_(), token.pos)
        return left

    def and_(self) -> Expr:
        left = self.not_()
        while self.at("and"):
            token = self.advance()
            left = Binary("and", left, self.not_(), token.pos)
        return left

    def not_(self) -> Expr:
        if self.at("not"):
            token = self.advance()
            self._nest()
            try:
                return Unary("not", self.not_(), token.pos)
            finally:
                self.depth -= 1
        if self.at("some", "every"):
            return self.quantifier()
        return self.comparison()

    def comparison(self) -> Expr:
        left = self.sum()
        if self.at("==", "!=", "<", "<=", ">", ">=", "in"):
            token = self.advance()
            return Binary(token.text, left, self.sum(), token.pos)
        if self.at("not") and self.tokens[self.index + 1].text == "in":
            token = self.advance()
            self.advance()
            return Binary("not in", left, self.sum(), token.pos)
        return left

    def sum(self) -> Expr:
        return self._chain(("+", "-"), self.product)

    def product(self) -> Expr:
        return self._chain(("*", "/"), self.unary)

    def _chain(self, operators: tuple[str, ...], operand) -> Expr:
        """``a + b - c``: each operator nests the expression before it one level deeper (((a + b) - c)),
        so each counts toward MAX_DEPTH; ``and``/``or`` chains do not (the checker reads them flat)."""
        start = self.depth
        try:
            left = operand()
            while self.at(*operators):
                token = self.advance()
                self._nest(token.pos)
                left = Binary(token.text, left, operand(), token.pos)
            return left
        finally:
            self.depth = start

    def unary(self) -> Expr:
        if self.at("-"):
            token = self.advance()
            self._nest()
            try:
                return Unary("-", self.unary(), token.pos)
            finally:
                self.depth -= 1
        return self.postfix()

    def postfix(self) -> Expr:
        start = self.depth
        try:
            expr = self.primary()
            while self.at("."):
                self._nest(self.advance().pos)  # a.b.c is ((a).b).c: each field nests one level, as an operator does
                if self.token.kind != "name":
                    raise ParseError(self.token.pos, "parse_error",
                                     f"expected a field name after '.', found {self._found()}")
                name = self.advance()
                expr = Attribute(expr, name.text, name.pos)
            return expr
        finally:
            self.depth = start

    def primary(self) -> Expr:
        token = self.token
        if token.kind == "number":
            self.advance()
            value = float(token.text) if any(c in token.text for c in ".eE") else int(token.text)
            if not finite(value):
                raise ParseError(token.pos, "type_error", f"{token.text[:20]}{'…' if len(token.text) > 20 else ''} "
                                                          f"is too large to be a number")
            return Literal(value, token.pos)
        if token.kind == "string":
            self.advance()
            body = token.text[1:-1]
            return Literal(re.sub(r"\\(.)", r"\1", body), token.pos)
        if token.kind == "keyword" and token.text in ("true", "false", "null"):
            self.advance()
            return Literal({"true": True, "false": False, "null": None}[token.text], token.pos)
        if self.at("["):
            self.advance()
            return ListLiteral(tuple(self._items("]")), token.pos)
        if self.at("("):
            self.advance()
            expr = self.expr()
            self.expect(")", "')'")
            return expr
        if token.kind == "name":
            self.advance()
            if self.at("("):
                self.advance()
                return Call(token.text, tuple(self._items(")")), token.pos)
            return Name(token.text, token.pos)
        raise ParseError(token.pos, "parse_error", f"expected a value, field or '(', found {self._found()}")

    def _items(self, closing: str) -> list[Expr]:
        items: list[Expr] = []
        if not self.at(closing):
            items.append(self.expr())
            while self.at(","):
                self.advance()
                items.append(self.expr())
        self.expect(closing, f"',' or '{closing}'")
        return items
