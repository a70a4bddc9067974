#!/usr/bin/env python3
"""Judges `dotnet list package --vulnerable --include-transitive --format json`.

Usage: check_vulnerable.py STDOUT_FILE STDERR_FILE
Exit 0: no known-vulnerable package (or the vulnerability feed could not be reached: a loud warning, since
        offline builds must still run; the check is only as good as its last successful run).
Exit 1: at least one package, direct or transitive, has a known vulnerability (each is listed).
Exit 2: the output cannot be understood (treated as a failure: a silent pass would hide a broken check).
"""
import json
import re
import sys

# What NuGet prints when it cannot reach a source or its vulnerability data.
UNREACHABLE = re.compile(
    r"Unable to load the service index|NU1301|NU1900|did not provide any vulnerability data|"
    r"Name or service not known|No such host|Connection refused|timed out|Unable to load vulnerability",
    re.IGNORECASE)


def judge(stdout: str, stderr: str):
    """Returns (exit code, lines to print)."""
    start = stdout.find("{")
    try:
        report = json.loads(stdout[start:]) if start >= 0 else None
    except json.JSONDecodeError:
        report = None
    problems = []
    if isinstance(report, dict):
        problems = [p.get("text", "") for p in report.get("problems", []) if isinstance(p, dict)]
    unreachable = [t for t in problems + stderr.splitlines() + stdout.splitlines() if UNREACHABLE.search(t)]

    if not isinstance(report, dict) or "projects" not in report:
        if unreachable:
            return 0, ["warning: the NuGet vulnerability feed could not be reached; vulnerable packages were NOT checked:"] + \
                      ["  " + u.strip() for u in unreachable[:5]]
        return 2, ["error: could not read the output of dotnet list package --vulnerable:"] + \
                  ["  " + l for l in (stdout + stderr).strip().splitlines()[:10]]

    found = []
    for project in report.get("projects", []):
        for framework in project.get("frameworks", []) or []:
            for kind in ("topLevelPackages", "transitivePackages"):
                for package in framework.get(kind, []) or []:
                    for v in package.get("vulnerabilities", []) or []:
                        found.append(f"{project.get('path', '?')} [{framework.get('framework', '?')}] "
                                     f"{package.get('id')} {package.get('resolvedVersion')} "
                                     f"({'direct' if kind == 'topLevelPackages' else 'transitive'}): "
                                     f"{v.get('severity', '?')} {v.get('advisoryurl', '')}")
    if found:
        return 1, [f"error: {len(found)} known vulnerabilit{'y' if len(found) == 1 else 'ies'} in NuGet dependencies:"] + \
                  ["  " + f for f in sorted(set(found))]
    if unreachable:
        return 0, ["warning: the NuGet vulnerability feed could not be reached; vulnerable packages were NOT checked:"] + \
                  ["  " + u.strip() for u in unreachable[:5]]
    errors = [p.get("text", "") for p in report.get("problems", []) if isinstance(p, dict) and p.get("level") == "error"]
    if errors:
        # The check did not run (a misconfigured source, a missing restore…): not a pass.
        return 2, ["error: dotnet list package --vulnerable could not check the packages:"] + \
                  ["  " + e for e in sorted(set(errors))[:5]]
    return 0, ["ok: no known-vulnerable NuGet package (direct or transitive)."]


def main(argv):
    with open(argv[1], encoding="utf-8", errors="replace") as f:
        stdout = f.read()
    with open(argv[2], encoding="utf-8", errors="replace") as f:
        stderr = f.read()
    code, lines = judge(stdout, stderr)
    for line in lines:
        print("vulnerable-packages: " + line, file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv))
