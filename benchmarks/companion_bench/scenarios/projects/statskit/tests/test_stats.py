from stats import bisect_root, clamp, mean, median, moving_sum


def test_mean():
    assert mean([1, 2, 3, 4]) == 2.5


def test_median_odd():
    assert median([3, 1, 2]) == 2


def test_median_even():
    assert median([4, 1, 3, 2]) == 2.5


def test_clamp():
    assert clamp(5, 0, 3) == 3
    assert clamp(-1, 0, 3) == 0
    assert clamp(2, 0, 3) == 2


def test_moving_sum():
    assert moving_sum([1, 2, 3, 4], 2) == [3, 5, 7]


def test_bisect_root():
    assert abs(bisect_root(lambda x: x * x - 2, 0, 2) - 2 ** 0.5) < 1e-5
