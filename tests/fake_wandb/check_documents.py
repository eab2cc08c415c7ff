"""Validates every GraphQL document in the given sources (the raw-string constants of
tool/wandb_client.cc, tool/wandb_run_reporter.cc, ...) against a schema file, with graphql-core,
including the ones the end-to-end tests may not reach.

    python3 check_documents.py <source.cc>... <schema.graphql>

Exits 0 when all are valid, 1 otherwise, 125 (skip) when graphql-core is missing.
"""

import os
import re
import sys

try:
    import graphql
except ImportError:
    print("skipped: graphql-core is not importable (Debian: python3-graphql-core)")
    sys.exit(125)


def documents(source):
    out = {}
    for m in re.finditer(r'constexpr char (k\w+)\[\] =\s*(?:R"\((.*?)\)"|"((?:[^"\\]|\\.)*)");',
                         source, re.S):
        text = m.group(2) if m.group(2) is not None else m.group(3)
        if re.match(r"\s*(query|mutation)\b", text):
            out[m.group(1)] = text
    return out


def main(argv):
    if len(argv) < 3:
        sys.stderr.write(__doc__)
        return 2
    with open(argv[-1], encoding="utf-8") as f:
        text = f.read()
    # What W&B has beyond the shared subset, as the fake serves it.
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                           "schema_extensions.graphql"), encoding="utf-8") as f:
        text += "\n" + f.read()
    schema = graphql.build_schema(text)
    failed = 0
    for source in argv[1:-1]:
        with open(source, encoding="utf-8") as f:
            docs = documents(f.read())
        if not docs:
            print("no GraphQL documents found in %s" % source)
            failed += 1
        for name, text in sorted(docs.items()):
            errors = graphql.validate(schema, graphql.parse(text))
            print("%-4s %s %s" % ("ok" if not errors else "FAIL", source.rsplit("/", 1)[-1],
                                  name))
            for e in errors:
                print("     %s" % e.message)
            failed += bool(errors)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
