"""One timeline PNG per run: user speech, companion speech (as heard), saves, job results, model decisions."""

from __future__ import annotations

from pathlib import Path

from benchmarks.companion_bench.transcript import job_results, model_turns


def plot_run(path: Path, title: str, timeline: dict, lines: list[dict], utts: list) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 2.6), dpi=80)
    rows = {"user": 4, "companion": 3, "files/typed": 2, "jobs": 1, "model": 0}
    for s in timeline["steps"]:
        if s["action"] == "say":
            ax.barh(rows["user"], s["t_end"] - s["t"], left=s["t"], height=0.6, color="#4477aa")
            ax.text(s["t"], rows["user"] + 0.38, s["text"][:40], fontsize=6)
        else:
            ax.plot([s["t"]], [rows["files/typed"]], marker="v", color="#228833")
            ax.text(s["t"], rows["files/typed"] + 0.3, f"{s['action']} {s.get('path') or s['text'][:20]}", fontsize=6)
    for u in utts:
        ax.barh(rows["companion"], max(u.t_end - u.t, 0.05), left=u.t, height=0.6,
                color="#cc3311" if u.interrupted else "#ee7733")
    for i, u in enumerate(utts[:12]):
        ax.text(u.t, rows["companion"] + 0.38 - 0.15 * (i % 2), u.text[:30], fontsize=5)
    for j in job_results(lines):
        failed = "fail" in (j.get("summary") or "").lower()
        ax.plot([j["t"]], [rows["jobs"]], marker="o", color="#cc3311" if failed else "#999999", markersize=4)
    colours = {"speech": "#ee7733", "stop": "#cc3311", "call": "#228833"}
    for t in model_turns(lines):
        if t["action"] in colours:
            ax.plot([t["t"]], [rows["model"]], marker="|", color=colours[t["action"]], markersize=8)
    ax.axvline(timeline["ready"], color="#bbbbbb", linestyle=":", linewidth=1)
    ax.set_yticks(list(rows.values()), list(rows.keys()), fontsize=7)
    ax.set_xlim(0, timeline["end"])
    ax.set_ylim(-0.6, 4.9)
    ax.set_xlabel("stream time (s)", fontsize=7)
    ax.tick_params(axis="x", labelsize=7)
    ax.set_title(title, fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
