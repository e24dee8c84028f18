"""Runs policy-check on every Terraform directory of one real-world corpus
and prints: directories, exit codes, findings per rule and severity, time,
and how the labelled sample (labels.tsv) fares: each labelled finding must
still be reported (or, for a false one, may have gone), and the share of
true ones among those still reported.

usage: corpus.py POLICY_CHECK NAME CORPUS_DIR LABELS.tsv OUT.json
"""
import collections
import json
import os
import subprocess
import sys
import time

pc, name, root, labels_path, out_path = sys.argv[1:6]
root = os.path.abspath(root)

dirs = set()
for d, subdirs, files in os.walk(root):
    subdirs[:] = [s for s in subdirs if s not in (".terraform", ".git")]
    if any(f.endswith(".tf") or f.endswith(".tf.json") for f in files):
        dirs.add(d)
dirs = sorted(dirs)

codes = collections.Counter()
rules = collections.Counter()
findings = []
crashes = []
t0 = time.monotonic()
for d in dirs:
    p = subprocess.run([pc, "--no-contract", "true", "--format", "json", d], capture_output=True, text=True)
    codes[p.returncode] += 1
    if p.returncode not in (0, 1):
        crashes.append((os.path.relpath(d, root), p.returncode, p.stderr.strip()[:300]))
        continue
    for f in json.loads(p.stdout):
        f["file"] = os.path.relpath(os.path.abspath(f["file"]), root)
        f["dir"] = os.path.relpath(d, root)
        findings.append(f)
        rules[(f["rule"], f["severity"])] += 1
elapsed = time.monotonic() - t0

# The same place reported from several roots (a module and the examples
# that call it) is one distinct finding.
distinct = {}
for f in findings:
    distinct.setdefault((f["rule"], f["file"], f["line"]), f)

print(f"{name}: {len(dirs)} directories in {elapsed:.2f}s ({elapsed / max(len(dirs), 1) * 1000:.0f} ms each); "
      f"exit codes " + ", ".join(f"{c}: {n}" for c, n in sorted(codes.items())))
print(f"  findings: {len(findings)} ({len(distinct)} distinct places); per rule: " +
      ", ".join(f"{r} {s} {n}" for (r, s), n in sorted(rules.items())))
for d, code, err in crashes:
    print(f"  exit {code} in {d}: {err}")

labels = {}
for line in open(labels_path):
    if not line.strip() or line.startswith("#"):
        continue
    corpus, rule, loc, verdict, why = line.rstrip("\n").split("\t", 4)
    if corpus != name:
        continue
    file, ln = loc.rsplit(":", 1)
    labels[(rule, file, int(ln))] = (verdict, why)
if labels:
    present = {k: v for k, v in labels.items() if k in distinct}
    gone = [k for k in labels if k not in distinct]
    true_n = sum(1 for v, _ in present.values() if v == "true")
    print(f"  labelled sample: {len(labels)}; still reported {len(present)}, of which true {true_n} "
          f"({100 * true_n / max(len(present), 1):.0f} %); no longer reported: {len(gone)}")
    for k in gone:
        if labels[k][0] == "true":
            print(f"    a TRUE finding is no longer reported: {k[0]} {k[1]}:{k[2]} ({labels[k][1]})")

json.dump({"name": name, "dirs": len(dirs), "codes": {str(c): n for c, n in codes.items()},
           "crashes": len(crashes), "seconds": elapsed,
           "findings": [dict(f) for f in distinct.values()]}, open(out_path, "w"), indent=1)
