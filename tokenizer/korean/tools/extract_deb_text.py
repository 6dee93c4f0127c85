#!/usr/bin/env python3
"""Extracts correctly spaced Korean sentences from the documentation in Debian packages.

Extra training text for the spacing model (build_spacing.py --extra FILE). Reads the .deb files
themselves (ar archive; data.tar.xz, .gz or .bz2), takes the HTML and Mallard (GNOME help,
.page) files of the Korean translation (a path component "ko", or a name ending in ".ko.html"),
and writes one sentence a line to stdout:

  * markup stripped: the text of each block element (p, li, td, h1-h6, dt, dd, div, ...) is one
    paragraph, inline elements (a, span, em, code, ...) are transparent, whitespace (line breaks
    inside a paragraph included) is one space; script, style, pre (code listings), elements
    marked hidden (LibreOffice's per-platform menu paths but the default one) and Mallard's info,
    comment, media and screen are left out; a paragraph with such a hole inside it, or with an
    empty cross-reference (text filled in by the help viewer), is dropped; the items of a
    Mallard guiseq / keyseq are kept apart;
  * paragraphs split into sentences after . ? ! followed by a space;
  * kept: sentences of at least --min-eojeols eojeols (UI labels and headings are shorter) whose
    non-space characters are at least --min-hangul Hangul syllables, without control or
    replacement characters; NFC; each sentence once (the first occurrence).

Deterministic: packages in the order given, the files of each in sorted order. Python 3 standard
library only. Writes a summary (package, version, files, sentences) to stderr.

Usage (the candidate measured in ../post/README.md, "Spacing restoration"; check each package's
usr/share/doc/PKG/copyright before using its text):
  apt-get download libreoffice-help-ko gnome-user-docs gnome-devel-docs
  python3 tokenizer/korean/tools/extract_deb_text.py libreoffice-help-ko_*.deb \\
      gnome-user-docs_*.deb gnome-devel-docs_*.deb --exclude '*/accessibility-devel-guide/*' \\
      --exclude '*/optimization-guide/*' > deb_ko.txt
"""
import argparse
import fnmatch
import html.parser
import io
import re
import sys
import tarfile
import unicodedata

BLOCK = {
    "address", "article", "aside", "blockquote", "body", "br", "button", "caption", "dd", "div",
    "dl", "dt", "figcaption", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header",
    "hr", "html", "label", "li", "main", "nav", "ol", "option", "p", "section", "select",
    "table", "tbody", "td", "tfoot", "th", "thead", "title", "tr", "ul",
    # Mallard (GNOME help, .page)
    "cite", "desc", "example", "figure", "item", "links", "list", "listing", "note", "page",
    "quote", "steps", "subtitle", "synopsis", "terms", "tree",
}
SKIP = {"script", "style", "pre", "head", "noscript", "textarea", "svg",
        "info", "comment", "media", "screen"}  # Mallard: metadata, notes, media, listings
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param",
        "source", "track", "wbr"}
SENTENCE_END = re.compile(r"(?<=[.?!])\s+")


class Paragraphs(html.parser.HTMLParser):
    """Collects the text of block elements as paragraphs. A paragraph with a hole (a skipped
    element inside it, an empty cross-reference whose text the help viewer fills in) is dropped:
    its words around the hole would be spaced wrongly (더 많은 내용은 을 살펴봅니다)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.paragraphs = []
        self.text = []
        self.broken = False
        self.skip_tag = None  # the tag that opened a skipped element, and its nesting depth
        self.skip_depth = 0
        self.seq_depth = 0  # inside Mallard's guiseq / keyseq

    def flush(self):
        s = " ".join("".join(self.text).split())
        if s and not self.broken:
            self.paragraphs.append(s)
        self.text = []
        self.broken = False

    def handle_starttag(self, tag, attrs):
        if self.skip_tag is not None:
            if tag == self.skip_tag:
                self.skip_depth += 1
            return
        if tag in BLOCK:
            self.flush()
        if tag in VOID:
            return
        if tag in ("guiseq", "keyseq"):
            self.seq_depth += 1
        elif tag in ("gui", "key") and self.seq_depth:
            self.text.append(" ")  # the viewer writes ▸ or + between the items
        attrs = dict(attrs)
        # LibreOffice writes each platform's variant of a menu path hidden; the help's script
        # shows one, the default one is the one kept.
        hidden = "hidden" in attrs and not (attrs.get("id") or "").startswith("default")
        if tag in SKIP or hidden:
            self.broken = self.broken or tag not in BLOCK
            self.skip_tag, self.skip_depth = tag, 1

    def handle_startendtag(self, tag, attrs):
        if self.skip_tag is not None:
            return
        if tag in BLOCK:
            self.flush()
        elif tag in ("link", "xref", "a") and any(k in ("xref", "href") for k, _ in attrs):
            self.broken = True

    def handle_endtag(self, tag):
        if self.skip_tag is not None:
            if tag == self.skip_tag:
                self.skip_depth -= 1
                if self.skip_depth == 0:
                    self.skip_tag = None
            return
        if tag in ("guiseq", "keyseq"):
            self.seq_depth = max(0, self.seq_depth - 1)
        if tag in BLOCK:
            self.flush()

    def handle_data(self, data):
        if self.skip_tag is None:
            self.text.append(data)


def ar_members(blob):
    """(name, bytes) of the members of an ar archive (the .deb container)."""
    if blob[:8] != b"!<arch>\n":
        raise ValueError("not an ar archive")
    pos = 8
    while pos + 60 <= len(blob):
        header = blob[pos:pos + 60]
        name = header[:16].decode("ascii").strip().rstrip("/")
        size = int(header[48:58].decode("ascii").strip())
        yield name, blob[pos + 60:pos + 60 + size]
        pos += 60 + size + (size & 1)


def open_tar(name, data):
    if name.endswith((".tar", ".xz", ".gz", ".bz2")):
        return tarfile.open(fileobj=io.BytesIO(data), mode="r:*")
    raise ValueError("unsupported member %s" % name)


def control_field(text, field):
    for line in text.splitlines():
        if line.startswith(field + ":"):
            return line.split(":", 1)[1].strip()
    return "?"


def is_korean_doc(path):
    parts = path.split("/")
    if not parts[-1].endswith((".html", ".htm", ".xhtml", ".page")):
        return False
    return "ko" in parts[:-1] or parts[-1].endswith((".ko.html", ".ko.htm"))


def hangul_share(s):
    chars = [c for c in s if not c.isspace()]
    hangul = sum(1 for c in chars if 0xAC00 <= ord(c) <= 0xD7A3)
    return hangul / len(chars) if chars else 0.0


def clean(s):
    return all(unicodedata.category(c)[0] != "C" and c != "\ufffd" for c in s)


def deb_sentences(path, min_eojeols, min_hangul, exclude=()):
    """(package, version, number of document files, sentences) of one .deb file."""
    with open(path, "rb") as f:
        members = dict(ar_members(f.read()))
    control_name = next(k for k in members if k.startswith("control.tar"))
    data_name = next(k for k in members if k.startswith("data.tar"))
    with open_tar(control_name, members[control_name]) as t:
        text = t.extractfile("./control").read().decode("utf-8")
    package, version = control_field(text, "Package"), control_field(text, "Version")
    out, files = [], 0
    with open_tar(data_name, members[data_name]) as t:
        entries = sorted((m for m in t.getmembers() if m.isfile() and is_korean_doc(m.name)
                          and not any(fnmatch.fnmatchcase(m.name, x) for x in exclude)),
                         key=lambda m: m.name)
        for m in entries:
            files += 1
            parser = Paragraphs()
            parser.feed(t.extractfile(m).read().decode("utf-8", errors="replace"))
            parser.close()
            parser.flush()
            for paragraph in parser.paragraphs:
                for s in SENTENCE_END.split(paragraph):
                    s = unicodedata.normalize("NFC", s.strip())
                    if (len(s.split()) >= min_eojeols and hangul_share(s) >= min_hangul
                            and clean(s)):
                        out.append(s)
    return package, version, files, out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("debs", nargs="+", help=".deb files")
    ap.add_argument("--min-eojeols", type=int, default=4)
    ap.add_argument("--min-hangul", type=float, default=0.6,
                    help="least share of Hangul syllables among non-space characters")
    ap.add_argument("--exclude", action="append", default=[], metavar="GLOB",
                    help="leave out the files whose path in the package matches GLOB "
                    "(e.g. '*/optimization-guide/*', a part under another licence)")
    args = ap.parse_args()
    seen = set()
    for path in args.debs:
        package, version, files, sentences = deb_sentences(path, args.min_eojeols,
                                                           args.min_hangul, args.exclude)
        kept = 0
        for s in sentences:
            if s not in seen:
                seen.add(s)
                kept += 1
                sys.stdout.write(s + "\n")
        print("%s %s: %d files, %d sentences (%d new)" %
              (package, version, files, len(sentences), kept), file=sys.stderr)


if __name__ == "__main__":
    main()
