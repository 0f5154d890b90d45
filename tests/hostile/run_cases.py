#!/usr/bin/env python3
"""Runs the hostile-input cases of cases.py against the built tools and prints one line per case,
then 'N passed, M failed'. With --messages, also what the user sees: the tool's exit status and
first error (or note) line, e.g. to compare two builds.
    run_cases.py [--messages] TOOLS_DIR WORK_DIR [CASE_NAME ...]"""
import os
import re
import shutil
import sys
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cases import CASES  # noqa: E402
from fixtures import Fixtures, Tools, run  # noqa: E402

CRASH_SIGNALS = {-6: "SIGABRT", -11: "SIGSEGV", 134: "SIGABRT", 139: "SIGSEGV"}


def judge(case, fx, d, result):
    out = result.stderr + result.stdout
    if result.returncode in CRASH_SIGNALS or "infinite loop closing library" in out:
        return f"crashed ({CRASH_SIGNALS.get(result.returncode, 'HDF5 shutdown loop')})"
    if case.rc is None and result.returncode == 0:
        return "succeeded, expected a refusal"
    if case.rc is not None and result.returncode != case.rc:
        return f"exit status {result.returncode}, expected {case.rc}"
    if case.rc is None and not re.search(r"error: ", result.stderr):
        return "failed without an 'error:' line"
    if case.message and not re.search(case.message, out, re.IGNORECASE | re.DOTALL):
        return f"message does not match /{case.message}/"
    for rel in case.absent:
        if os.path.exists(os.path.join(d, rel)):
            return f"'{rel}' exists afterwards"
    return case.check(fx, d, result) if case.check else None


def main():
    args = sys.argv[1:]
    show = "--messages" in args
    args = [a for a in args if a != "--messages"]
    tools_dir, work = args[0], os.path.abspath(args[1])
    only = set(args[2:])
    os.makedirs(work, exist_ok=True)
    fx = Fixtures(Tools(tools_dir), work)
    passed = failed = 0
    for case in CASES:
        if only and case.name not in only:
            continue
        d = os.path.join(work, case.name)
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        try:
            result = run(case.setup(fx, d), cwd=d)
            problem = judge(case, fx, d, result)
        except Exception:  # a broken setup is a failed case, with its trace
            result, problem = None, "setup raised:\n" + traceback.format_exc()
        if show and result is not None:
            said = [line for line in result.stderr.splitlines() if re.search(r"error:|skipping|removed|resumed", line)]
            print(f"  exit {result.returncode}: " + (said[0].replace(d + "/", "") if said else "(nothing)"))
        if problem is None:
            passed += 1
            print(f"PASS [{case.klass}] {case.name}")
        else:
            failed += 1
            print(f"FAIL [{case.klass}] {case.name}: {problem}")
            if result is not None:
                print("  stderr: " + result.stderr.strip().replace("\n", "\n  stderr: ")[-3000:])
    print(f"{passed} passed, {failed} failed")
    return 1 if failed or not passed else 0


if __name__ == "__main__":
    sys.exit(main())
