#!/usr/bin/env python3
"""checksrc.py - the banned-call check of weir's C sources (Python 3 standard library).

Reads every tracked *.c and *.h (git ls-files; tests and benchmarks included) with its
comments and string literals blanked out, and reports:
  - calls that cannot be used safely: sprintf, vsprintf (use snprintf and check the
    length), strcpy, strcat (use memcpy with a known length, or snprintf), gets (fgets),
    strtok (strtok_r), atoi, atol, atoll, atof (no error report at all: use strtol and check it);
  - unchecked integer conversions: strtol, strtoll, strtoul, strtoull, strtoimax,
    strtoumax must get an end pointer (&name, not NULL) and the next lines (up to the
    end of the statement that follows, at most 8 lines) must look at that end pointer or
    at errno; a conversion whose result is not checked is one that turns "12abc", "" or
    an overflow into a silent number. The look-ahead stops where &name is handed to the
    next conversion, so one check cannot vouch for two calls.
A line may carry the comment /* checksrc: allow CALL - reason */ (on it or on the line
before) when the call is safe for a reason the check cannot see; the reason is required.
Violations that predate the check are listed in scripts/checksrc-known.txt (file and
call text, no line numbers); they still print, as "known", and an entry that no longer
matches anything fails the check, so the list only shrinks.
Usage: checksrc.py [--root DIR] [FILES...]   exit 0 clean, 1 new violations or stale list.
       checksrc.py --relist   rewrites scripts/checksrc-known.txt as today's violations (a
                              merge that moves files; say so in the commit: the list is
                              meant to shrink, never to take new code).
"""
import os
import re
import subprocess
import sys

BANNED = {
    "sprintf": "use snprintf and check its result",
    "vsprintf": "use vsnprintf and check its result",
    "strcpy": "use memcpy with a known length, or snprintf",
    "strcat": "use memcpy with a known length, or snprintf",
    "gets": "use fgets",
    "strtok": "not thread-safe: use strtok_r or memchr",
    "atoi": "no error report: use strtol and check the end pointer",
    "atol": "no error report: use strtol and check the end pointer",
    "atoll": "no error report: use strtoll and check the end pointer",
    "atof": "no error report: use strtod and check the end pointer",
}
CONVERSIONS = ("strtol", "strtoll", "strtoul", "strtoull", "strtoimax", "strtoumax")
CALL = re.compile(r"(?<![\w.>])(" + "|".join(list(BANNED) + list(CONVERSIONS)) + r")\s*\(")
ALLOW = re.compile(r"checksrc:\s*allow\s+(\w+)\s*-\s*\S")
LOOKAHEAD = 8


def blank(src):
    """src with comments and string/char literals replaced by spaces (newlines kept),
    and the list of comment texts per line (for allow markers)."""
    out = []
    comments = {}
    i, n, line = 0, len(src), 1
    while i < n:
        c = src[i]
        if src.startswith("/*", i):
            j = src.find("*/", i + 2)
            j = n if j < 0 else j + 2
            text = src[i:j]
            comments.setdefault(line, []).append(text)
            for ch in text:
                out.append("\n" if ch == "\n" else " ")
            line += text.count("\n")
            i = j
        elif src.startswith("//", i):
            j = src.find("\n", i)
            j = n if j < 0 else j
            comments.setdefault(line, []).append(src[i:j])
            out.append(" " * (j - i))
            i = j
        elif c in "\"'":
            j = i + 1
            while j < n and src[j] != c and src[j] != "\n":
                j += 2 if src[j] == "\\" else 1
            j = min(j + 1, n)
            out.append(c + " " * (j - i - 2) + c if j - i >= 2 else " " * (j - i))
            i = j
        else:
            if c == "\n":
                line += 1
            out.append(c)
            i += 1
    return "".join(out), comments


def call_args(code, start):
    """The top-level arguments of the call whose '(' is at start, and the end index."""
    depth, args, cur, i = 0, [], [], start
    while i < len(code):
        ch = code[i]
        if ch in "([{":
            depth += 1
            if depth == 1:
                i += 1
                continue
        elif ch in ")]}":
            depth -= 1
            if depth == 0:
                args.append("".join(cur).strip())
                return args, i
        elif ch == "," and depth == 1:
            args.append("".join(cur).strip())
            cur = []
            i += 1
            continue
        cur.append(ch)
        i += 1
    return args, len(code)


def allowed(comments, line, name):
    for ln in (line, line - 1):
        for text in comments.get(ln, []):
            m = ALLOW.search(text)
            if m and m.group(1) == name:
                return True
    return False


def check_file(path, rel):
    with open(path, encoding="utf-8", errors="replace") as f:
        src = f.read()
    code, comments = blank(src)
    raw_lines = src.split("\n")
    found = []
    for m in CALL.finditer(code):
        name = m.group(1)
        line = code.count("\n", 0, m.start()) + 1
        if allowed(comments, line, name):
            continue
        text = raw_lines[line - 1].strip()
        if name in BANNED:
            found.append((rel, line, name, text, BANNED[name]))
            continue
        args, end = call_args(code, m.end() - 1)
        endp = args[1] if len(args) > 1 else ""
        em = re.fullmatch(r"&\s*([A-Za-z_]\w*)", endp)
        if not em:
            found.append((rel, line, name, text,
                          "no end pointer: pass &end and check it (and errno for range)"))
            continue
        var = em.group(1)
        after = code[end:]
        window = "\n".join(after.split("\n")[:LOOKAHEAD + 1])
        # The window ends where the end pointer is handed to the next conversion: a check
        # after that one belongs to it.
        # (Sibling branches, "} else if (...) x = strtol(v, &end, 10);", share the check
        # after the chain: a closing brace before the next &name keeps the window open.)
        again = re.search(r"&\s*" + re.escape(var) + r"\b", window)
        if again and "}" not in window[:again.start()]:
            window = window[:again.start()]
        if not re.search(r"\b(" + re.escape(var) + r"|errno)\b", window):
            found.append((rel, line, name, text,
                          f"end pointer {var} is never looked at in the next lines"))
    return found


def main(argv):
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    files = []
    args = argv[1:]
    if args[:1] == ["--root"]:
        root, args = args[1], args[2:]
    relist = args[:1] == ["--relist"]
    if relist:
        args = []
    if args:
        files = args
    else:
        out = subprocess.run(["git", "-C", root, "ls-files", "-co", "--exclude-standard",
                              "*.c", "*.h"], capture_output=True, text=True, check=True)
        files = [f for f in out.stdout.split("\n") if f]
    known = {}
    known_path = os.path.join(root, "scripts", "checksrc-known.txt")
    if os.path.exists(known_path):
        with open(known_path, encoding="utf-8") as f:
            for ln in f:
                ln = ln.rstrip("\n")
                if ln.strip() and not ln.startswith("#"):
                    rel, _, text = ln.partition(": ")
                    known[(rel.strip(), text.strip())] = 0
    if relist:
        known = {}
    new = []
    for rel in sorted(files):
        path = rel if os.path.isabs(rel) else os.path.join(root, rel)
        if not os.path.isfile(path):
            continue
        for v in check_file(path, rel):
            key = (v[0], v[3])
            if key in known:
                known[key] += 1
                print(f"{v[0]}:{v[1]}: known: {v[2]}: {v[4]}")
            else:
                new.append(v)
    if relist:
        with open(known_path, encoding="utf-8") as f:
            head = [ln for ln in f if ln.startswith("#")]
        with open(known_path, "w", encoding="utf-8") as f:
            f.writelines(head)
            for key in sorted({(v[0], v[3]) for v in new}):
                f.write(f"{key[0]}: {key[1]}\n")
        print(f"checksrc: {len({(v[0], v[3]) for v in new})} entries in {known_path}")
        return 0
    for rel, line, name, text, why in new:
        print(f"{rel}:{line}: {name}: {why}\n    {text}", file=sys.stderr)
    stale = [k for k, seen in known.items() if seen == 0 and (args == [] or k[0] in args)]
    for rel, text in stale:
        print(f"scripts/checksrc-known.txt: stale entry (fixed? remove it): {rel}: {text}",
              file=sys.stderr)
    n_known = sum(known.values())
    print(f"checksrc: {len(new)} new violation(s), {n_known} known, {len(stale)} stale "
          f"known entr{'y' if len(stale) == 1 else 'ies'}")
    return 1 if new or stale else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
