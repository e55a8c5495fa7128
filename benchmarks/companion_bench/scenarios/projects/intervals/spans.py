"""Merge and query closed integer intervals given as (start, end) pairs."""


def merge(spans):
    ordered = sorted(spans)
    merged = []
    for start, end in ordered:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def total_length(spans):
    return sum(end - start for start, end in merge(spans))


def contains(spans, point):
    for start, end in spans:
        if start <= point <= end:
            return True
    return False
