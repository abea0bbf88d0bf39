#!/usr/bin/env python3
"""Prints MAJOR.MINOR.PATCH read from include/fm.h, so the version is written
in one place only."""
import os
import re

header = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'include', 'fm.h')
with open(header, encoding='utf-8') as f:
    text = f.read()
parts = [re.search(r'#define FM_VERSION_%s (\d+)' % k, text).group(1) for k in ('MAJOR', 'MINOR', 'PATCH')]
print('.'.join(parts))
