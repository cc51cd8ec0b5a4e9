"""What the side-by-side comparisons (compare_pytorch.py, compare_dali.py) share:
measuring a run's process tree from outside, the ferry-bench command, and the
alternating rounds with their table of medians."""
import argparse
import json
import os
import statistics
import subprocess
import sys
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def process_cpu_seconds(pid):
    """utime + stime of a live process, from /proc/<pid>/stat."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --------------------------------------------------------------------------
# Measuring a process tree from outside.
# --------------------------------------------------------------------------
def print_child_report(images, wall, cpu):
    """A child run's report, the one JSON line measured_run() reads."""
    print(json.dumps({"images": images, "wall_s": wall, "images_per_s": images / wall, "cpu_s": cpu,
                      "images_per_cpu_s": images / cpu if cpu > 0 else 0}), flush=True)


def _children_map():
    children = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may hold spaces, so split after ')'.
        ppid = int(stat[stat.rindex(b")") + 2:].split()[1])
        children.setdefault(ppid, []).append(int(name))
    return children


def _tree(root):
    children = _children_map()
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def _kib_field(path, field):
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(field):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


class TreeMemory(threading.Thread):
    """Peak summed RSS and PSS of a process and its descendants."""

    def __init__(self, pid, period=0.1):
        super().__init__(daemon=True)
        self.pid, self.period = pid, period
        self.peak_rss = self.peak_pss = 0
        self.stop = threading.Event()

    def run(self):
        while not self.stop.is_set():
            rss = pss = 0
            for pid in _tree(self.pid):
                rss += _kib_field(f"/proc/{pid}/status", "VmRSS:")
                pss += _kib_field(f"/proc/{pid}/smaps_rollup", "Pss:")
            self.peak_rss, self.peak_pss = max(self.peak_rss, rss), max(self.peak_pss, pss)
            self.stop.wait(self.period)


def measured_run(cmd, prog):
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    mem = TreeMemory(proc.pid)
    mem.start()
    out, err = proc.communicate()
    mem.stop.set()
    mem.join()
    if proc.returncode != 0:
        sys.exit(f"{prog}: {' '.join(cmd)} failed ({proc.returncode}):\n{err}")
    return json.loads(out), mem.peak_rss, mem.peak_pss


def ferry_cmd(a, pipeline, seed, device="cpu"):
    return [a.ferry_bench, "--data", a.data, "--pipeline", pipeline, "--workers", str(a.workers), "--batch-size",
            str(a.batch_size), "--epochs", str(a.epochs), "--seed", str(seed), "--json", "-", "--no-progress",
            "--device", device]


def warm_page_cache(root):
    for dirpath, _, files in os.walk(root):
        for name in files:
            with open(os.path.join(dirpath, name), "rb") as f:
                while f.read(1 << 20):
                    pass


def mib(b):
    return f"{b / 2**20:.0f} MiB"



def add_arguments(parser, workers_help=None):
    """The options every comparison takes."""
    parser.add_argument("--data", required=True, help="an ImageFolder directory")
    parser.add_argument("--pipelines", default="train", help="comma-separated: train, val ('' for none)")
    parser.add_argument("--pipeline", default="train", help=argparse.SUPPRESS)
    parser.add_argument("--workers", type=int, default=2, help=workers_help)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=1, help="epochs per run")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds; the table shows medians")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--ferry-bench", default=os.path.join(ROOT, "build", "bin", "ferry-bench"))
    parser.add_argument("--json", help="also write all runs and the medians to this file")


def checked_pipelines(a, prog, other):
    """The pipelines to compare; exits with a message for a bad --data, a
    missing ferry-bench or a pipeline `other` has no equivalent of."""
    if not os.path.isdir(a.data):
        sys.exit(f"{prog}: --data {a.data} is not a directory (an ImageFolder is needed for {other})")
    pipelines = [s for s in a.pipelines.split(",") if s]
    if pipelines and not os.access(a.ferry_bench, os.X_OK):
        sys.exit(f"{prog}: {a.ferry_bench} not found; build first (scripts/build)")
    for s in pipelines:
        if s not in ("train", "val"):
            sys.exit(f"{prog}: pipeline '{s}' has no {other} equivalent here (train, val)")
    return pipelines


def run_rounds(a, pipelines, tools, command, prog):
    """`a.rounds` rounds; in each, every pipeline runs every tool in turn (the
    order swapped every round). command(tool, pipeline, seed) is the argv of a
    run that prints its report as JSON. Returns {(pipeline, tool): [run, ...]}."""
    warm_page_cache(a.data)
    runs = {(pl, tool): [] for pl in pipelines for tool in tools}
    for r in range(a.rounds):
        for pl in pipelines:
            for tool in tools if r % 2 == 0 else tools[::-1]:
                report, rss, pss = measured_run(command(tool, pl, a.seed + r), prog)
                runs[(pl, tool)].append({"images_per_s": report["images_per_s"], "images": report["images"],
                                         "images_per_cpu_s": report.get("images_per_cpu_s", 0),
                                         "peak_rss_bytes": rss, "peak_pss_bytes": pss})
                print(f"round {r + 1}/{a.rounds} {pl:5s} {tool:5s}: {report['images_per_s']:7.1f} images/s, "
                      f"{report.get('images_per_cpu_s', 0):6.1f} images/CPU-s, peak RSS {mib(rss)}, PSS {mib(pss)}, "
                      f"load {os.getloadavg()[0]:.1f}", flush=True)
    return runs


def print_medians(pipelines, tools, names, runs):
    """The table of medians, ferry (tools[0]) against the other (tools[1]),
    named `names`. Returns the medians by pipeline."""
    ours, theirs = tools
    n1, n2 = names

    def med(pl, tool, key):
        return statistics.median(x[key] for x in runs[(pl, tool)])

    print(f"| pipeline | {n1} images/s | {n2} images/s | ratio | {n1} images/CPU-s | {n2} images/CPU-s | ratio "
          f"| {n1} peak RSS | {n2} peak RSS | {n1} peak PSS | {n2} peak PSS |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    summary = {}
    for pl in pipelines:
        row = {k: {tool: med(pl, tool, k) for tool in tools}
               for k in ("images_per_s", "images_per_cpu_s", "peak_rss_bytes", "peak_pss_bytes")}
        f, t = row["images_per_s"][ours], row["images_per_s"][theirs]
        fc, tc = row["images_per_cpu_s"][ours], row["images_per_cpu_s"][theirs]
        row["ratio"] = f / t if t > 0 else 0
        row["cpu_ratio"] = fc / tc if tc > 0 else 0
        summary[pl] = row
        print(f"| {pl} | {f:.1f} | {t:.1f} | {row['ratio']:.2f}x | {fc:.1f} | {tc:.1f} | {row['cpu_ratio']:.2f}x "
              f"| {mib(row['peak_rss_bytes'][ours])} | {mib(row['peak_rss_bytes'][theirs])} "
              f"| {mib(row['peak_pss_bytes'][ours])} | {mib(row['peak_pss_bytes'][theirs])} |")
    return summary


def write_json(a, runs, medians):
    """Every run and the medians to a.json, when given."""
    if a.json:
        with open(a.json, "w") as fh:
            json.dump({"args": vars(a), "runs": {f"{k[0]}/{k[1]}": v for k, v in runs.items()}, "medians": medians},
                      fh, indent=2)
