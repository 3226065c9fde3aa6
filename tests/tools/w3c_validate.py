#!/usr/bin/env python3
"""Validate feed files offline with the W3C Feed Validator.

Usage:
    w3c_validate.py --validator-src DIR [--warnings] FILE_OR_DIR...

DIR is the `src` folder of a checkout of https://github.com/w3c/feedvalidator
(the folder that contains the `feedvalidator` package). Its Python
dependencies (html5lib, and optionally lxml/feedparser) must be installed.

Every *.xml and *.rss file found under the given folders (recursively) is
validated, as is every file named directly. One line is printed per error
(and per warning with --warnings):

    path: line N: message

followed by a summary line `N feeds, E errors, W warnings`. A message may
end with the offending value in [brackets]. The validator reports each kind
of problem once per feed, with an occurrence count, and the totals count
those reported lines. Exit status: 1 if any error was
found, 0 otherwise, 2 on bad usage.
"""

import argparse
import os
import sys

FEED_SUFFIXES = (".xml", ".rss")

# Events that make no sense for a local file: the validator compares
# atom:link rel="self" with the URL the feed was fetched from, and we
# have no such URL.
IGNORED_EVENTS = {"SelfDoesntMatchLocation"}


def fail(message):
    print("w3c_validate.py: " + message, file=sys.stderr)
    sys.exit(2)


def find_feeds(paths):
    """Yield the feed files named by `paths`, walking folders recursively."""
    for path in paths:
        if os.path.isdir(path):
            for root, dirs, files in os.walk(path):
                dirs.sort()
                for name in sorted(files):
                    if name.lower().endswith(FEED_SUFFIXES):
                        yield os.path.join(root, name)
        elif os.path.isfile(path):
            yield path
        else:
            fail("no such file or folder: %s" % path)


def load_validator(src_dir):
    """Import the validator package from its source folder."""
    if not os.path.isdir(os.path.join(src_dir, "feedvalidator")):
        fail("%s has no feedvalidator package" % src_dir)
    sys.path.insert(0, os.path.abspath(src_dir))
    import feedvalidator
    from feedvalidator import logging as fvlog
    from feedvalidator.formatter.text_plain import Formatter
    return feedvalidator, fvlog, Formatter([])


def check_feed(path, fv, fvlog, formatter):
    """Return the problems in one file as a list of (is_error, line, message)."""
    with open(path, "rb") as f:
        data = f.read()
    try:
        result = fv.validateString(data, firstOccurrenceOnly=1, fallback="utf-8")
        events = result["loggedEvents"]
    except fvlog.ValidationFailure as failure:
        events = [failure.event]

    problems = []
    for event in events:
        if type(event).__name__ in IGNORED_EVENTS:
            continue
        is_error = isinstance(event, fvlog.Error)
        if not is_error and not isinstance(event, fvlog.Warning):
            continue  # Info and "valid ..." success events
        message = formatter.getMessage(event)
        value = " ".join(str(event.params.get("value", "")).split())
        if value and value not in message:  # e.g. the offending date or HTML error
            message += " [%s]" % (value if len(value) <= 80 else value[:77] + "...")
        count = event.params.get("msgcount", 1)
        if count > 1:
            message += " (%d occurrences)" % count
        problems.append((is_error, event.params.get("line", "?"), message))
    return problems


def main():
    parser = argparse.ArgumentParser(
        description="Validate feed files with the W3C Feed Validator.")
    parser.add_argument("--validator-src", required=True, metavar="DIR",
                        help="the validator's `src` folder")
    parser.add_argument("--warnings", action="store_true",
                        help="also print warnings")
    parser.add_argument("paths", nargs="+", metavar="FILE_OR_DIR")
    args = parser.parse_args()

    fv, fvlog, formatter = load_validator(args.validator_src)

    n_feeds = n_errors = n_warnings = 0
    for path in list(find_feeds(args.paths)):
        n_feeds += 1
        for is_error, line, message in check_feed(path, fv, fvlog, formatter):
            if is_error:
                n_errors += 1
            else:
                n_warnings += 1
            if is_error or args.warnings:
                print("%s: line %s: %s" % (path, line, message))

    print("%d feeds, %d errors, %d warnings" % (n_feeds, n_errors, n_warnings))
    return 1 if n_errors else 0


if __name__ == "__main__":
    sys.exit(main())
