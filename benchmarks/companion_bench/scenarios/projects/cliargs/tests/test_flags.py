from flags import DEFAULTS, format_usage, parse_flags


def test_equals_form():
    flags, _ = parse_flags(["--out=a.txt"])
    assert flags["out"] == "a.txt"


def test_space_form_and_positional():
    flags, positional = parse_flags(["--out", "b.txt", "input.csv"])
    assert flags["out"] == "b.txt"
    assert positional == ["input.csv"]


def test_switch():
    flags, _ = parse_flags(["--verbose"])
    assert flags["verbose"] is True


def test_defaults_untouched():
    parse_flags(["--retries=9"])
    assert DEFAULTS["retries"] == 3


def test_usage():
    assert format_usage("tool", ["b", "a"]) == "tool [--a] [--b]"
