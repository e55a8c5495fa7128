"""Writes docs/companion-bench.md: the table, the exact command, the machine's load, the definitions."""

from __future__ import annotations

from pathlib import Path

DEFINITIONS = Path(__file__).with_name("DEFINITIONS.md")


def write_doc(path: Path, table: str, command: str, meta: dict, voices: list[str]) -> None:
    text = f"""# CompanionBench results

Command (in the headless env, `source scripts/headless-env.sh && headless_env_up`):

    nice -n 5 {command}

{meta['runs']} runs of {meta['scenarios']} scenarios in {meta['seconds']:.0f} s on {meta['cpus']} cores,
load average at the end {', '.join(f'{x:.1f}' for x in meta['load_avg'])} (a shared, loaded machine:
see the late-ticks row). User speech only in held-out voices: {', '.join(voices)}; scenario code under
benchmarks/companion_bench/scenarios/ (held out from training, benchmarks/heldout.py).
Failed runs: {'; '.join(meta['errors']) or 'none'}.

{table}

{DEFINITIONS.read_text(encoding='utf-8')}
"""
    path.write_text(text, encoding="utf-8")
