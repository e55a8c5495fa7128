"""Small descriptive statistics over lists of numbers."""


def mean(xs):
    total = 0.0
    for x in xs:
        total += x
    return total / len(xs)


def median(xs):
    ordered = sorted(xs)
    mid = len(ordered) // 2
    if len(ordered) % 2 == 1:
        return ordered[mid]
    return (ordered[mid - 1] + ordered[mid]) / 2


def clamp(x, low, high):
    if x < low:
        return low
    if x > high:
        return high
    return x


def moving_sum(xs, width):
    out = []
    for i in range(len(xs) - width + 1):
        out.append(sum(xs[i:i + width]))
    return out


def bisect_root(f, lo, hi, tol=1e-6):
    while hi - lo > tol:
        mid = (lo + hi) / 2
        if f(lo) * f(mid) <= 0:
            hi = mid
        else:
            lo = mid
    return (lo + hi) / 2
