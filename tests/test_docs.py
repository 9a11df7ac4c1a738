# tests/test_docs.py -- the manual pages and the commented example against the binary itself.
# Every key that `sluice --list-keys` prints must have an entry in man/sluice.yaml.5, in the
# subsection named after its parent path, giving the same type, default and required flag;
# no entry may describe a key that does not exist; every key must be shown in conf/sluice.yaml;
# every option of `sluice --help` must be in the OPTIONS of man/sluice.8; the YAML examples of
# both pages must pass `sluice --check`; and both pages must render without groff warnings.
# Needs only the built binary ($SLUICE_BIN or build/src/sluice); no database.
import os
import re
import shutil
import subprocess

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MAN8 = os.path.join(REPO, "man", "sluice.8")
MAN5 = os.path.join(REPO, "man", "sluice.yaml.5")
CONF_EXAMPLE = os.path.join(REPO, "conf", "sluice.yaml")


def sluice_binary():
    return os.environ.get("SLUICE_BIN", os.path.join(REPO, "build", "src", "sluice"))


def run(*args):
    return subprocess.run([sluice_binary(), *args], capture_output=True, text=True, timeout=30)


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


# ---- what the binary says -------------------------------------------------------------------

class Key:
    """One line of --list-keys: `path type [required] [default=X] [reloadable]: help`."""

    def __init__(self, line):
        head, sep, self.help = line.partition(": ")
        assert sep, f"--list-keys line without ': help': {line!r}"
        words = head.split()
        assert len(words) >= 2, f"--list-keys line without a type: {line!r}"
        self.path, self.type = words[0], words[1]
        flags = words[2:]
        self.required = "required" in flags
        self.default = next((w[len("default="):] for w in flags if w.startswith("default=")),
                            None)
        unknown = [w for w in flags
                   if w not in ("required", "reloadable") and not w.startswith("default=")]
        assert not unknown, f"--list-keys line with unknown flags {unknown}: {line!r}"
        parent, _, self.name = self.path.rpartition(".")
        # "clusters[].nodes[]" -> the subsection "clusters[].nodes"; "" -> "Top level".
        self.section = parent[:-2] if parent.endswith("[]") else parent
        if not self.section:
            self.section = "top level"

    def header(self):
        """The first line of the key's man page entry, as it must read."""
        parts = [self.type]
        if self.required:
            parts.append("required")
        if self.default is not None:
            parts.append(f"default {self.default}")
        if len(parts) == 1:
            parts.append("optional")
        return "(" + ", ".join(parts) + ")"

    def __repr__(self):
        return self.path


@pytest.fixture(scope="module")
def keys():
    r = run("--list-keys")
    assert r.returncode == 0, r.stderr
    parsed = [Key(line) for line in r.stdout.splitlines() if line.strip()]
    # A parser that found nothing would make every check below pass vacuously.
    assert len(parsed) >= 20, f"--list-keys printed only {len(parsed)} keys:\n{r.stdout}"
    paths = {k.path for k in parsed}
    for must in ("listeners[].bind", "clusters[].monitor.interval", "clusters[].nodes[].address"):
        assert must in paths, f"--list-keys lacks {must}:\n{r.stdout}"
    return parsed


# ---- reading roff ---------------------------------------------------------------------------

def roff_text(line):
    """The characters a roff text line shows: font changes dropped, common escapes resolved."""
    line = re.sub(r"\\f(\[[^\]]*\]|\(..|.)", "", line)
    for esc, ch in ((r"\-", "-"), (r"\(aq", "'"), (r"\(dq", '"'), (r"\(bu", "*"),
                    (r"\&", ""), (r"\%", ""), (r"\e", "\\")):
        line = line.replace(esc, ch)
    return line


def sections(path):
    """{(SH title, SS title or None): [lines]} of a man page, titles lower-cased."""
    out = {}
    sh = ss = None
    for line in read(path).splitlines():
        m = re.match(r'^\.(SH|SS)\s+"?(.*?)"?\s*$', line)
        if m:
            if m.group(1) == "SH":
                sh, ss = m.group(2).lower(), None
            else:
                ss = m.group(2).lower()
            out.setdefault((sh, ss), [])
            continue
        if sh is not None:
            out[(sh, ss)].append(line)
    return out


def entries(lines):
    """{name: first text line} of the `.TP` / `.B name` entries in a list of lines."""
    found = {}
    for i in range(len(lines) - 2):
        if lines[i].strip() != ".TP":
            continue
        m = re.match(r"^\.B\s+(\S+)\s*$", lines[i + 1])
        if m:
            found.setdefault(m.group(1), []).append(roff_text(lines[i + 2]).strip())
    return found


def key_entries():
    """{subsection: {name: [header, ...]}} of the KEYS section of sluice.yaml(5)."""
    return {ss: entries(lines) for (sh, ss), lines in sections(MAN5).items()
            if sh == "keys" and ss is not None}


# ---- sluice.yaml(5) against --list-keys -----------------------------------------------------

def test_every_key_is_documented_in_its_section(keys):
    documented = key_entries()
    missing = []
    for k in keys:
        if k.name not in documented.get(k.section, {}):
            where = [ss for ss, names in documented.items() if k.name in names]
            missing.append(f"  {k.path}: no '.TP' + '.B {k.name}' entry under "
                           f"'.SS {k.section}'" + (f" (found under {where})" if where else ""))
    assert not missing, ("man/sluice.yaml.5 does not document these keys of --list-keys:\n"
                         + "\n".join(missing))


def test_every_entry_states_type_default_and_required(keys):
    documented = key_entries()
    wrong = []
    for k in keys:
        for header in documented.get(k.section, {}).get(k.name, []):
            if header != k.header():
                wrong.append(f"  {k.path}: entry starts with {header!r}, "
                             f"--list-keys says {k.header()!r}")
    assert not wrong, "man/sluice.yaml.5 disagrees with --list-keys:\n" + "\n".join(wrong)


def test_no_entry_for_a_key_that_does_not_exist(keys):
    known = {(k.section, k.name) for k in keys}
    stale = [f"  '.B {name}' under '.SS {ss}'"
             for ss, names in key_entries().items() for name in names if (ss, name) not in known]
    assert not stale, ("man/sluice.yaml.5 documents keys that --list-keys does not print "
                       "(removed or misplaced?):\n" + "\n".join(stale))


# ---- conf/sluice.yaml against --list-keys ---------------------------------------------------

def test_every_key_is_shown_in_the_conf_example(keys):
    """conf/sluice.yaml is the commented example: every key appears in it as `name:`, set or
    in a comment (keys that need files or secrets cannot all be set in a file that must pass
    --check)."""
    text = read(CONF_EXAMPLE)
    missing = [k.path for k in keys
               if not re.search(r"(?<![\w.-])" + re.escape(k.name) + r"\s*:", text)]
    assert not missing, ("conf/sluice.yaml never shows these keys as 'name:' (add them, "
                         "commented out if they need files):\n  " + "\n  ".join(missing))


# ---- sluice(8) against --help ---------------------------------------------------------------

def test_every_help_option_is_in_the_man_page():
    r = run("--help")
    assert r.returncode == 0, r.stderr
    options = set()
    for m in re.finditer(r"(?m)^\s+(?:(-\w),\s+)?(--[\w-]+)", r.stdout):
        options.update(o for o in m.groups() if o)
    expected = {"-c", "--config", "--check", "--list-keys", "--version", "--help"}
    assert expected <= options, f"--help no longer lists {expected - options}:\n{r.stdout}"

    man = sections(MAN8)
    assert ("options", None) in man, "man/sluice.8 has no OPTIONS section"
    lines = man[("options", None)]
    # The tags of the OPTIONS list: the line after each .TP.
    tags = " ".join(roff_text(lines[i + 1]) for i in range(len(lines) - 1)
                    if lines[i].strip() == ".TP")
    tag_words = set(re.findall(r"--?[\w-]+", tags))
    missing = sorted(options - tag_words)
    assert not missing, (f"man/sluice.8 OPTIONS has no entry for {missing} "
                         f"(entries found: {sorted(tag_words)})")


def test_sluice8_has_its_sections():
    present = {sh for sh, _ in sections(MAN8)}
    wanted = ["name", "synopsis", "description", "options", "signals", "exit status", "files",
              "examples", "see also"]
    missing = [s.upper() for s in wanted if s not in present]
    assert not missing, f"man/sluice.8 lacks the sections {missing}"
    status = entries(sections(MAN8)[("exit status", None)])
    assert {"0", "1", "2"} <= set(status), f"EXIT STATUS documents only {sorted(status)}"


# ---- examples and rendering -----------------------------------------------------------------

def yaml_examples(path):
    """The .EX blocks of a page that are configuration files (they start with listeners:)."""
    blocks, cur = [], None
    for line in read(path).splitlines():
        if line.strip() == ".EX":
            cur = []
        elif line.strip() == ".EE" and cur is not None:
            text = "\n".join(roff_text(l) for l in cur) + "\n"
            if text.startswith("listeners:"):
                blocks.append(text)
            cur = None
        elif cur is not None:
            cur.append(line)
    return blocks


@pytest.mark.parametrize("page", [MAN8, MAN5], ids=["sluice.8", "sluice.yaml.5"])
def test_yaml_examples_pass_check(page, tmp_path):
    examples = yaml_examples(page)
    assert examples, f"{page} shows no configuration example"
    for n, text in enumerate(examples):
        # The files under /etc/sluice the example names, created in a scratch directory.
        for name in set(re.findall(r"/etc/sluice/([\w.-]+)", text)):
            (tmp_path / name).write_text("secret\n")
        path = tmp_path / f"example{n}.yaml"
        path.write_text(text.replace("/etc/sluice/", f"{tmp_path}/"))
        r = run("--check", "-c", str(path))
        assert r.returncode == 0, (f"example {n + 1} of {os.path.basename(page)} fails "
                                   f"--check:\n{r.stderr}\n{text}")


@pytest.mark.parametrize("page", [MAN8, MAN5], ids=["sluice.8", "sluice.yaml.5"])
def test_page_renders_without_warnings(page):
    groff = shutil.which("groff")
    if groff is None:
        pytest.skip("groff is not installed (apt-get install groff-base)")
    r = subprocess.run([groff, "-man", "-ww", "-z", page], capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 0 and r.stderr == "", f"groff on {page}:\n{r.stderr}"


def test_meson_installs_both_pages():
    build = read(os.path.join(REPO, "man", "meson.build"))
    m = re.search(r"install_man\(([^)]*)\)", build)
    assert m, "man/meson.build does not call install_man()"
    for page in ("'sluice.8'", "'sluice.yaml.5'"):
        assert page in m.group(1), f"man/meson.build does not install {page}"


def test_modules_import_each_other_in_no_cycle():
    """HACKING.md: imports run downward. No module of src/ reaches itself through the
    #include "..." lines of its .c and .h (the mysql_session_*.c rooms are one module)."""
    src = os.path.join(REPO, "src")
    deps: dict[str, set[str]] = {}

    def module(path: str) -> str:
        m = os.path.splitext(path)[0]
        return "session/mysql_session" if m.startswith("session/mysql_session") else m

    for dirpath, _, files in os.walk(src):
        for f in files:
            if not f.endswith((".c", ".h")):
                continue
            rel = os.path.relpath(os.path.join(dirpath, f), src)
            with open(os.path.join(dirpath, f), encoding="utf-8") as fh:
                for inc in re.findall(r'^#include "([^"]+)"', fh.read(), re.M):
                    if module(inc) != module(rel):
                        deps.setdefault(module(rel), set()).add(module(inc))

    def path_back(start: str) -> list[str] | None:
        """A chain of imports from start back to start, if there is one."""
        stack, seen = [(start, [start])], set()
        while stack:
            node, chain = stack.pop()
            for nxt in sorted(deps.get(node, ())):
                if nxt == start:
                    return chain + [start]
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, chain + [nxt]))
        return None

    cycles = [" > ".join(c) for c in (path_back(m) for m in sorted(deps)) if c]
    assert not cycles, "modules that import themselves around a circle:\n" + "\n".join(cycles)
