import pytest
from ring import Ring


def test_push_keeps_order():
    r = Ring(3)
    for x in [1, 2, 3]:
        r.push(x)
    assert r.to_list() == [1, 2, 3]


def test_overwrites_oldest():
    r = Ring(3)
    for x in [1, 2, 3, 4, 5]:
        r.push(x)
    assert r.to_list() == [3, 4, 5]


def test_latest():
    r = Ring(2)
    r.push("a")
    r.push("b")
    assert r.latest() == "b"


def test_empty_latest():
    with pytest.raises(IndexError):
        Ring(1).latest()
