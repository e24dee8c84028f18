"""Compares trivy's IAM findings with policy-check's: every IAM issue trivy
reports must be found by policy-check in the same file, within the lines
trivy points at. Prints counts and any miss."""
import json
import sys

trivy = json.load(open(sys.argv[1]))
ours = json.load(open(sys.argv[2]))
root = sys.argv[3].rstrip("/") + "/"

IAM = ("CNV-IAM", "AWS-0342", "AWS-0345", "AWS-0057")
theirs = []
for res in trivy.get("Results") or []:
    for m in res.get("Misconfigurations") or []:
        mid = m.get("ID") or m.get("AVDID") or ""
        if not mid.startswith(IAM) or m.get("Status") == "PASS":
            continue
        cm = m.get("CauseMetadata") or {}
        theirs.append((res["Target"], cm.get("StartLine", 0), cm.get("EndLine", 0), mid, m.get("Message", "")))

by_file = {}
for f in ours:
    name = f["file"]
    if name.startswith(root):
        name = name[len(root):]
    by_file.setdefault(name, []).append(f)

missed = []
for target, start, end, mid, msg in theirs:
    hits = [f for f in by_file.get(target, []) if start <= f["line"] <= max(end, start)]
    if not hits:
        missed.append((target, start, end, mid, msg))

errors = sum(1 for f in ours if f["severity"] == "error")
ids = sorted({t[3] for t in theirs})
print(f"  trivy IAM findings: {len(theirs)} ({', '.join(ids) or 'none'}); policy-check findings: {len(ours)} ({errors} errors)")
print(f"  trivy IAM findings that policy-check also reports: {len(theirs) - len(missed)}/{len(theirs)}")
for m in missed[:20]:
    print("  MISSED", m)
