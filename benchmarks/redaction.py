"""Benchmark: recall and false positives of secret redactors on the corpus in tests/fixtures.

    python -m benchmarks.redaction [--baseline-rev 8638069]

Candidates: the redactor of `--baseline-rev` (loaded from git history, when this is a git
checkout), detect-secrets alone (every plugin, default filters), the project's own patterns
alone, and the shipped `companion.core.redact.redact` (detect-secrets first, then the patterns).

Definitions. A secret *leaks* when it survives redaction whole, or (for secrets of 8 characters
or more) any 8-character piece of it survives: a half-masked token is a leak. Recall = secrets
not leaked / secrets. A *false positive* is a true-negative case whose text changed at all;
FP rate = such cases / negative cases. Time is per case, mean, on whatever load the machine has.
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import time
import types
from collections.abc import Callable
from pathlib import Path

Redactor = Callable[..., str]
ROOT = Path(__file__).resolve().parents[1]


def _load_corpus() -> types.ModuleType:
    # By path: another installed distribution may own the top-level name `tests`.
    spec = importlib.util.spec_from_file_location(
        "redaction_corpus", ROOT / "tests" / "fixtures" / "redaction_corpus.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it runs
    spec.loader.exec_module(module)
    return module


CORPUS = _load_corpus()
POSITIVES, NEGATIVES, Case = CORPUS.POSITIVES, CORPUS.NEGATIVES, CORPUS.Case
WINDOW = 8


def leaked(secret: str, text: str) -> bool:
    if len(secret) < WINDOW:
        return secret in text
    return any(secret[i:i + WINDOW] in text for i in range(len(secret) - WINDOW + 1))


def score(redact: Redactor, cases_pos: tuple[Case, ...] = POSITIVES,
          cases_neg: tuple[Case, ...] = NEGATIVES) -> dict:
    """Leaked secrets and changed negatives, by case name, for one redactor."""
    leaks, changed, secrets = [], [], 0
    cases_neg = cases_neg or ()
    began = time.perf_counter()
    for case in cases_pos:
        out = redact(case.text, path=case.path)
        for secret in case.secrets:
            secrets += 1
            if leaked(secret, out):
                leaks.append(case.name)
    for case in cases_neg:
        if redact(case.text, path=case.path) != case.text:
            changed.append(case.name)
    elapsed = time.perf_counter() - began
    return {
        "secrets": secrets, "leaked": leaks, "recall": 1 - len(leaks) / secrets,
        "negatives": len(cases_neg), "false_positives": changed,
        "fp_rate": len(changed) / max(1, len(cases_neg)),
        "ms_per_case": 1000 * elapsed / max(1, len(cases_pos) + len(cases_neg)),
    }


def baseline_redactor(rev: str) -> Redactor | None:
    """`companion/redact.py` (its path then) as it was at `rev`, or None outside a git checkout."""
    try:
        source = subprocess.run(["git", "-C", str(ROOT), "show", f"{rev}:companion/redact.py"],
                                capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    module = types.ModuleType("baseline_redact")
    exec(compile(source, f"{rev}:companion/redact.py", "exec"), module.__dict__)  # noqa: S102 (our own history)
    return module.redact


def candidates(rev: str) -> dict[str, Redactor]:
    from companion.core import redact as shipped
    found: dict[str, Redactor] = {}
    old = baseline_redactor(rev)
    if old is not None:
        found[f"main@{rev} regexes"] = old
    found["detect-secrets 1.5.0 alone"] = lambda text, path=None: shipped.mask_detected(text, path)
    found["project patterns alone"] = shipped.redact_patterns
    found["shipped: detect-secrets + patterns"] = shipped.redact
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline-rev", default="8638069")
    parser.add_argument("--verbose", action="store_true", help="list the cases each one misses")
    args = parser.parse_args()
    n_pos, n_neg = len(POSITIVES), len(NEGATIVES)
    print(f"corpus: {n_pos} positive cases, {n_neg} true negatives ({n_pos + n_neg} cases)")
    tuned = tuple(c for c in POSITIVES if not c.held_out)
    held_out = tuple(c for c in POSITIVES if c.held_out)
    print(f"held out (written after the patterns, never tuned for): {len(held_out)} of the "
          "positive cases")
    print(f"{'candidate':38} {'recall':>14} {'leaks':>6} {'FP rate':>13} {'ms/case':>8} "
          f"{'tuned recall':>13} {'held-out recall':>16}")
    for name, redact in candidates(args.baseline_rev).items():
        r = score(redact)
        h = score(redact, held_out, ())
        t = score(redact, tuned, ())
        kept = r["secrets"] - len(r["leaked"])
        print(f"{name:38} {kept:>3}/{r['secrets']:<3} {r['recall']:6.1%} {len(r['leaked']):>6} "
              f"{len(r['false_positives']):>2}/{r['negatives']:<2} {r['fp_rate']:6.1%} "
              f"{r['ms_per_case']:8.2f} {t['recall']:13.1%} "
              f"{h['secrets'] - len(h['leaked']):>9}/{h['secrets']:<2} {h['recall']:4.0%}")
        if args.verbose:
            print("    leaked:", ", ".join(sorted(set(r["leaked"]))) or "-")
            print("    false positives:", ", ".join(r["false_positives"]) or "-")
    print_cost(candidates(args.baseline_rev))


def print_cost(found: dict[str, Redactor], repeats: int = 50) -> None:
    """What redaction costs a micro-turn: one file part at its cap (~256 tokens of diff)."""
    diff = "".join(f"+    total = compute_total(items[{i}], tax_rate=0.{i % 10}, rounding=2)\n"
                   for i in range(16))
    print(f"\ncost of redacting one {len(diff)}-character diff (a file part at its cap), "
          f"median of {repeats}:")
    base = None
    for name, redact in found.items():
        times = []
        for _ in range(repeats):
            began = time.perf_counter()
            redact(diff, path="billing.py")
            times.append(time.perf_counter() - began)
        median = sorted(times)[repeats // 2] * 1000
        base = base or median
        print(f"  {name:38} {median:7.2f} ms  ({median / base:4.1f}x the first)")


if __name__ == "__main__":
    main()
