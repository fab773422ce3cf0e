#!/usr/bin/python3
"""Turns a bulkmap_bench run (Google Benchmark JSON) into the suite's report.

    bench/report.py RUN.json --commit C [--date D] [--out-root bench/results]

Writes, under OUT_ROOT/<device>/:
  <date>-<commit>.json   the run itself, unchanged
  <date>-<commit>.md     the machine, every median in keys/s, and bulkmap's ratio to each peer;
                         db-benchmark's group-by questions in seconds, next to the published
                         DuckDB and Polars times
  <date>-<commit>-*.png  throughput against multiplicity, occupancy and key distribution
and prints the markdown table. <device> is a slug of the GPU's name (cuda) or of the CPU model and
thread count (omp).
"""
import argparse
import collections
import json
import pathlib
import re
import shutil
import sys

BULKMAP = "bulkmap"
CEILING = "gups"
CPU_MAPS = ("std", "absl", "boost", "tbb", "libcuckoo")
DBBENCH = "dbbench_groupby"
SECONDS = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}
# db-benchmark's names of the questions (bench/dbbench.hpp).
DBBENCH_TITLES = {
    "q1": "sum v1 by id1", "q2": "sum v1 by id1:id2", "q3": "sum v1 mean v3 by id3",
    "q4": "mean v1:v3 by id4", "q5": "sum v1:v3 by id6", "q10": "sum v3 count by id1:id6",
}
# Published first-run times (run 1, seconds) on G1_1e7_1e2_0_0 (10^7 rows, K = 100, no NAs,
# unsorted), from duckdblabs/db-benchmark's time.csv at commit b5ce53e, host ip-172-31-31-147
# (an AWS EC2 machine; its instance type is not in that file). DuckDB: solution duckdb-latest
# 0.9.1 (git 401c8061c6), batch of 2023-10-20; Polars 0.19.8, batch of 2023-10-17 (run on
# 2023-10-19). Other rows, another machine: compare orders of magnitude, not ratios.
PUBLISHED_1E7 = {
    "DuckDB 0.9.1": {"q1": 0.005, "q2": 0.020, "q3": 0.073, "q4": 0.006, "q5": 0.059,
                     "q10": 0.173},
    "Polars 0.19.8": {"q1": 0.012, "q2": 0.034, "q3": 0.033, "q4": 0.040, "q5": 0.039,
                      "q10": 0.192},
}


def slug(text):
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def device_slug(context):
    if context.get("bulkmap_backend") == "cuda":
        return slug(context["bulkmap_device"].split(",")[0])
    threads = context.get("cpu_map_threads", "?")
    return slug(f"{context.get('cpu_model', 'cpu')} {threads}t")


def medians(run):
    """{(workload, type): {peer: keys per second}} from the median aggregates."""
    table = collections.defaultdict(dict)
    for b in run["benchmarks"]:
        workload, key_type, peer = b["run_name"].split("/")[:3]
        if workload == DBBENCH:  # in seconds, in their own table (dbbench_markdown)
            continue
        if b.get("error_occurred"):  # reported per run, with no aggregates
            print(f"report: {b['run_name']} failed: {b.get('error_message')}", file=sys.stderr)
            table[(workload, key_type)][peer] = None
        elif b.get("aggregate_name") == "median":
            table[(workload, key_type)][peer] = b["items_per_second"]
    return table


def dbbench_seconds(run):
    """{question: {peer: (seconds, rows per second)}} of the db-benchmark medians."""
    table = collections.defaultdict(dict)
    for b in run["benchmarks"]:
        parts = b["run_name"].split("/")
        if parts[0] != DBBENCH:
            continue
        question, peer = parts[1], parts[2]
        if b.get("error_occurred"):
            table[question][peer] = None
        elif b.get("aggregate_name") == "median":
            table[question][peer] = (b["real_time"] * SECONDS[b.get("time_unit", "ns")],
                                     b["items_per_second"])
    return table


def seconds_text(value):
    return "FAILED" if value is None else f"{value:.3g}"


def dbbench_markdown(run, table):
    """db-benchmark's questions: seconds per question for each peer, bulkmap's rows per second
    and its ratio to the CPU map, and the published DuckDB and Polars times for 10^7 rows."""
    if not table:
        return []
    ctx = run["context"]
    rows = ctx.get("dbbench_n", "?")
    peers = sorted({p for row in table.values() for p in row},
                   key=lambda p: (not p.startswith(BULKMAP), p))
    others = [p for p in peers if not p.startswith(BULKMAP)]
    published = list(PUBLISHED_1E7) if rows == "10000000" else []
    header = (["question", "db-benchmark's name"] + [f"{p} s" for p in peers] +
              ["bulkmap rows/s"] + [f"× {p}" for p in others] +
              [f"{name} s (published)" for name in published])
    lines = [
        "",
        f"## db-benchmark group-by, {rows} rows (K = 100, no NAs, unsorted)",
        "",
        "Seconds per question (median), columns already in memory; a question's time includes "
        "numbering the groups, every aggregate and the result's columns. `× peer` is the peer's "
        "time over bulkmap's (above 1: bulkmap is faster)."
        + (" Published: db-benchmark's first runs on its own machine and its own rows "
           "(see bench/report.py for the source)." if published else ""),
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
    ]
    order = sorted(table, key=lambda q: int(q[1:]) if q[1:].isdigit() else 99)
    for question in order:
        row = table[question]
        ours = row.get(BULKMAP)
        cells = [question, DBBENCH_TITLES.get(question, "")]
        cells += [seconds_text(row[p][0] if row[p] else None) if p in row else "–"
                  for p in peers]
        cells.append(keys_per_second(ours[1]) if ours else "–")
        for p in others:
            theirs = row.get(p)
            cells.append(f"{theirs[0] / ours[0]:.2f}" if ours and theirs else "–")
        cells += [seconds_text(PUBLISHED_1E7[name].get(question)) for name in published]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def errored(run):
    """Names of the benchmarks that reported an error (a wrong result)."""
    return sorted({b["run_name"].split("/iterations")[0] for b in run["benchmarks"]
                   if b.get("error_occurred")})


def keys_per_second(rate):
    if rate is None:
        return "FAILED"
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if rate >= scale:
            return f"{rate / scale:.3g} {unit}"
    return f"{rate:.3g}"


def markdown(run, table, dbbench, commit, date):
    ctx = run["context"]
    peers = sorted({p for row in table.values() for p in row} - {BULKMAP, CEILING})
    cpu_maps = [p for p in peers if p in CPU_MAPS]
    dbbench_maps = sorted({p for row in dbbench.values() for p in row if p in CPU_MAPS})
    if cpu_maps:
        cpu_line = (f"CPU maps on {ctx.get('cpu_map_threads')} threads (TBB, libcuckoo), "
                    f"{ctx.get('cpu_n')} keys per batch")
    elif dbbench_maps:
        cpu_line = f"CPU maps: {', '.join(dbbench_maps)}, single-threaded"
    else:
        cpu_line = "CPU maps not run"
    batch = f"keys per batch: {ctx.get('n')} on the backend; " if table else ""
    lines = [
        f"# bulkmap_bench, {ctx.get('bulkmap_backend')} backend",
        "",
        f"- device: {ctx.get('bulkmap_device')}",
        f"- host CPU: {ctx.get('cpu_model')}, {ctx.get('num_cpus')} logical CPUs; {cpu_line}",
        f"- commit {commit}, {date}; {batch}median of {ctx.get('repetitions')} runs",
    ]
    if "fresh_page_us" in ctx:
        kept = ("kept for the next repetition" if ctx.get("freed_memory_kept") == "yes"
                else "returned to the OS")
        lines.append(f"- memory: a fresh 4 KiB page took {ctx['fresh_page_us']} us at startup; "
                     f"freed memory {kept}")
    if "corpus" in ctx and any(w.startswith("count_words") for w, _ in table):
        lines.append(f"- count_words: the first {ctx.get('corpus_bytes')} bytes of "
                     f"{ctx['corpus']}, words per second")
    if table:
        lines += [
            "",
            "Keys per second (median). `× peer` is bulkmap's throughput over the peer's; "
            "`of GUPS` is bulkmap's fraction of the random read-modify-write ceiling on a table "
            "of the same size.",
            "",
            "| workload | type | bulkmap | of GUPS | " +
            " | ".join(f"{p} | × {p}" for p in peers) + " |",
            "|---|---|---|---|" + "---|---|" * len(peers),
        ]
    for (workload, key_type), row in table.items():
        ours = row.get(BULKMAP)
        cells = [workload, key_type, keys_per_second(ours) if BULKMAP in row else "–"]
        ceiling = row.get(CEILING)
        cells.append(f"{ours / ceiling:.2f}" if ours and ceiling else "–")
        for p in peers:
            theirs = row.get(p)
            cells.append(keys_per_second(theirs) if p in row else "–")
            cells.append(f"{ours / theirs:.2f}" if ours and theirs else "–")
        lines.append("| " + " | ".join(cells) + " |")
    lines += dbbench_markdown(run, dbbench)
    failed = errored(run)
    if failed:
        lines += ["", "Benchmarks that computed a wrong result (no time reported): " +
                  ", ".join(f"`{name}`" for name in failed)]
    return "\n".join(lines) + "\n"


def plot(table, n, out_prefix, title):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def series(select):
        """{(peer, type): [(x, rate)]} over the workloads `select` maps to an x value."""
        lines = collections.defaultdict(list)
        for (workload, key_type), row in table.items():
            x = select(workload)
            if x is None:
                continue
            for peer, rate in row.items():
                if rate is not None:
                    lines[(peer, key_type)].append((x, rate))
        return lines

    def multiplicity(w):
        m = re.fullmatch(r"count_uniform_d(\d+)", w)
        if m:
            return n / int(m.group(1))
        return 1.0 if w == "count_unique" else None

    def occupancy(w):
        m = re.fullmatch(r"insert_occ([\d.]+)", w)
        return float(m.group(1)) if m else None

    order = ["count_unique", "count_zipf_s0.99", "count_zipf_s1.2", "count_uniform_d1000000",
             "count_uniform_d1024", "count_uniform_d16", "count_uniform_d1"]

    def distribution(w):
        return order.index(w) if w in order else None

    figures = [
        ("multiplicity", multiplicity, "mean multiplicity (keys / distinct keys)", True, None),
        ("occupancy", occupancy, "occupancy after the insert", False, None),
        ("distribution", distribution, "key distribution (counting)", False, order),
    ]
    written = []
    for name, select, xlabel, logx, ticks in figures:
        lines = series(select)
        if not lines:
            continue
        fig, ax = plt.subplots(figsize=(8, 5))
        for (peer, key_type), points in sorted(lines.items()):
            points.sort()
            style = {"u32": "-", "u64": "--"}.get(key_type, ":")
            width = 2.5 if peer == BULKMAP else 1.2
            ax.plot([p[0] for p in points], [p[1] for p in points], style, marker="o",
                    linewidth=width, label=f"{peer} {key_type}")
        if logx:
            ax.set_xscale("log")
        if ticks:
            ax.set_xticks(range(len(ticks)))
            ax.set_xticklabels([t.replace("count_", "") for t in ticks], rotation=30, ha="right")
        ax.set_yscale("log")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("keys per second (median)")
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7, ncol=2)
        fig.tight_layout()
        path = pathlib.Path(f"{out_prefix}-{name}.png")
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)
    return written


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=pathlib.Path)
    parser.add_argument("--commit", required=True)
    parser.add_argument("--date", default=None)
    parser.add_argument("--out-root", type=pathlib.Path, default=pathlib.Path("bench/results"))
    args = parser.parse_args()

    run = json.loads(args.run.read_text())
    date = args.date or run["context"]["date"][:10]
    table = medians(run)
    dbbench = dbbench_seconds(run)
    if not table and not dbbench:
        sys.exit("report: the run holds no median results")
    out_dir = args.out_root / device_slug(run["context"])
    out_dir.mkdir(parents=True, exist_ok=True)
    prefix = out_dir / f"{date}-{args.commit}"
    if args.run.resolve() != prefix.with_suffix(".json").resolve():
        shutil.copyfile(args.run, prefix.with_suffix(".json"))
    text = markdown(run, table, dbbench, args.commit, date)
    prefix.with_suffix(".md").write_text(text)
    title = f"bulkmap_bench: {run['context'].get('bulkmap_device')}"
    for path in plot(table, int(run["context"]["n"]), prefix, title):
        print(f"report: wrote {path}", file=sys.stderr)
    print(text)


if __name__ == "__main__":
    main()
