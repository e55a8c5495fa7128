import pytest
from lexer import count_parens, tokenize


def test_numbers_and_operators():
    assert tokenize("12 + 3.5") == [("num", "12"), ("op", "+"), ("num", "3.5")]


def test_names():
    assert tokenize("x1*y") == [("name", "x1"), ("op", "*"), ("name", "y")]


def test_parens_balance():
    assert count_parens(tokenize("(a+(b))")) == 0


def test_bad_character():
    with pytest.raises(ValueError):
        tokenize("a $ b")
