"""A strict reader of our pages' HTML: what a validator would refuse, and what a screen reader
needs (a language, alt text on every image, a label on every control, unique ids)."""

from __future__ import annotations

from html.parser import HTMLParser

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}  # fmt: skip
CONTROLS = {"input", "select", "textarea"}


class PageProblems(HTMLParser):
    """Feed a page; `problems` lists what is wrong with it."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self.stack: list[tuple[str, dict[str, str | None]]] = []
        self.ids: set[str] = set()
        self.label_for: set[str] = set()
        self.controls: list[tuple[str | None, bool]] = []  # (id, wrapped in a label)
        self.doctype = False
        self.lang = False

    def handle_decl(self, decl: str) -> None:
        self.doctype = self.doctype or decl.lower() == "doctype html"

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if len(a) != len(attrs):
            self.problems.append(f"<{tag}> repeats an attribute")
        if tag == "html":
            self.lang = bool(a.get("lang"))
        if (ident := a.get("id")) is not None:
            if ident in self.ids:
                self.problems.append(f"duplicate id {ident!r}")
            self.ids.add(ident)
        if tag == "img" and not (a.get("alt") or "").strip():
            self.problems.append(f"<img src={a.get('src')!r}> has no alt text")
        if tag == "label" and a.get("for"):
            self.label_for.add(str(a["for"]))
        if tag in CONTROLS and a.get("type") != "hidden":
            wrapped = any(t == "label" for t, _ in self.stack)
            self.controls.append((a.get("id"), wrapped or bool(a.get("aria-label"))))
        if tag not in VOID:
            self.stack.append((tag, a))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in VOID:
            self.stack.pop()

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            self.problems.append(f"end tag </{tag}> of a void element")
            return
        if not self.stack or self.stack[-1][0] != tag:
            open_ = self.stack[-1][0] if self.stack else "nothing"
            self.problems.append(f"</{tag}> closes {open_}")
            if any(t == tag for t, _ in self.stack):
                while self.stack and self.stack[-1][0] != tag:
                    self.stack.pop()
                self.stack.pop()
            return
        self.stack.pop()

    def finish(self) -> list[str]:
        self.close()
        if not self.doctype:
            self.problems.append("no <!DOCTYPE html>")
        if not self.lang:
            self.problems.append("<html> has no lang")
        if self.stack:
            self.problems.append(f"unclosed: {[t for t, _ in self.stack]}")
        for ident in self.label_for - self.ids:
            self.problems.append(f"<label for={ident!r}> names no element")
        for ident, wrapped in self.controls:
            if not wrapped and ident not in self.label_for:
                self.problems.append(f"a control (id={ident!r}) has no label")
        return self.problems


def problems(html: str) -> list[str]:
    checker = PageProblems()
    checker.feed(html)
    return checker.finish()
