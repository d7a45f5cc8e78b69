#!/usr/bin/env python3
"""Reads JUnit XML reports of a gpu-tagged test run and says what ran: one line
'gpu tests: N run, F failed, E errors, S skipped, K not run on the emulator', then one line per failure and skip.
Exit 0 only when tests ran and none failed or was skipped, except, on the emulated device, the tests listed in
scripts/emulator-cannot-run.txt (they need what the emulator cannot have).
Usage: gpu-test-verdict.py EMULATED(0|1) ALLOW_LIST REPORT.xml...   (surefire's or the JUnit console's reports)"""
import sys
import xml.etree.ElementTree as ET


def allowed(path):
    out = {}
    for line in open(path, encoding='utf-8'):
        line = line.strip()
        if line and not line.startswith('#'):
            key, _, reason = line.partition('|')
            out[key.strip()] = reason.strip()
    return out


def main(emulated, allow_path, reports):
    cannot = allowed(allow_path) if emulated else {}
    tests = fail = err = skip = notrun = 0
    lines, classes = [], {}
    for f in reports:
        try:
            root = ET.parse(f).getroot()
        except (OSError, ET.ParseError) as e:
            lines.append('  no readable report %s: %s' % (f, e))
            continue
        for case in root.iter('testcase'):
            cls, name = case.get('classname') or root.get('name'), (case.get('name') or '').removesuffix('()')
            key = '%s.%s' % (cls, name)
            tests += 1
            classes[cls.rsplit('.', 1)[-1]] = classes.get(cls.rsplit('.', 1)[-1], 0) + 1
            for kind in ('failure', 'error', 'skipped'):
                el = case.find(kind)
                if el is None:
                    continue
                text = (el.get('message') or el.text or '').strip().splitlines()
                why = text[0][:300] if text else ''
                if kind == 'skipped' and key in cannot:
                    notrun += 1
                    lines.append('  not run on the emulator: %s: %s' % (key, cannot[key]))
                elif kind == 'skipped':
                    skip += 1
                    lines.append('  SKIPPED %s: %s' % (key, why))
                else:
                    fail += kind == 'failure'
                    err += kind == 'error'
                    lines.append('  %s %s: %s' % (kind.upper(), key, why))
    print('gpu tests: %d run, %d failed, %d errors, %d skipped, %d not run on the emulator (%s)'
          % (tests, fail, err, skip, notrun, ', '.join('%s %d' % kv for kv in sorted(classes.items()))))
    for l in lines:
        print(l)
    return 0 if tests > 0 and fail + err + skip == 0 else 1


if __name__ == '__main__':
    if len(sys.argv) < 4:
        print(__doc__)
        sys.exit(2)
    sys.exit(main(sys.argv[1] == '1', sys.argv[2], sys.argv[3:]))
