from spans import contains, merge, total_length


def test_merge_overlapping():
    assert merge([(5, 8), (1, 3), (2, 4)]) == [(1, 4), (5, 8)]


def test_merge_touching():
    assert merge([(1, 2), (2, 5)]) == [(1, 5)]


def test_total_length():
    assert total_length([(0, 2), (1, 4), (10, 11)]) == 5


def test_contains():
    assert contains([(1, 3)], 3)
    assert not contains([(1, 3)], 4)
