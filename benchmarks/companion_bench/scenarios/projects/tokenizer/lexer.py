"""A tiny lexer for arithmetic expressions: numbers, names, operators and parentheses."""

OPERATORS = "+-*/()"


def tokenize(text):
    tokens = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch.isdigit():
            start = i
            while i < len(text) and (text[i].isdigit() or text[i] == "."):
                i += 1
            tokens.append(("num", text[start:i]))
        elif ch.isalpha():
            start = i
            while i < len(text) and text[i].isalnum():
                i += 1
            tokens.append(("name", text[start:i]))
        elif ch in OPERATORS:
            tokens.append(("op", ch))
            i += 1
        else:
            raise ValueError(f"unexpected {ch!r} at {i}")
    return tokens


def count_parens(tokens):
    depth = 0
    for kind, value in tokens:
        if value == "(":
            depth += 1
        elif value == ")":
            depth -= 1
    return depth
