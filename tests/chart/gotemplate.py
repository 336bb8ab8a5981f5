"""A small renderer for the subset of Go templates (and Helm's functions) the whatsapp-operator
chart uses, so that tests can check the chart without a helm binary.

Supported: text and actions with {{- -}} trimming, comments, if / else if / else, with, range
(over lists and maps, with `$i, $v :=`), define / include, variables (`$x :=`, `$`), pipelines,
parenthesised commands, and the functions in FUNCS. Anything else raises TemplateError naming the
file and the action, so a template the renderer cannot read fails the test instead of passing
unchecked. A missing key under .Values is an error too (every value must exist in values.yaml).

This is not Helm: sprig functions beyond FUNCS, .Capabilities, lookup and tpl are absent.
"""

import base64
import json
import re

import yaml


class TemplateError(Exception):
    pass


# ---- lexing ---------------------------------------------------------------------------------


def split_actions(text, where):
    """Yields ("text", s) and ("action", body) with trimming applied."""
    parts = []
    i = 0
    while True:
        start = text.find("{{", i)
        if start < 0:
            parts.append(["text", text[i:]])
            break
        parts.append(["text", text[i:start]])
        j = start + 2
        in_str = None
        while j < len(text):
            ch = text[j]
            if in_str:
                if ch == "\\" and in_str == '"':
                    j += 2
                    continue
                if ch == in_str:
                    in_str = None
            elif ch in "\"`":
                in_str = ch
            elif text.startswith("}}", j):
                break
            j += 1
        else:
            line = text.count("\n", 0, start) + 1
            raise TemplateError(f"{where}:{line}: unclosed action {{{{")
        body = text[start + 2:j]
        line = text.count("\n", 0, start) + 1
        trim_left = body.startswith("- ") or body == "-"
        trim_right = body.endswith(" -")
        if trim_left:
            body = body[1:]
        if trim_right:
            body = body[:-1]
        parts.append(["action", body.strip(), trim_left, trim_right, line])
        i = j + 2
    # Apply trimming to neighbouring text.
    for k, p in enumerate(parts):
        if p[0] != "action":
            continue
        if p[2] and k > 0 and parts[k - 1][0] == "text":
            parts[k - 1][1] = parts[k - 1][1].rstrip(" \t\r\n")
        if p[3] and k + 1 < len(parts) and parts[k + 1][0] == "text":
            parts[k + 1][1] = parts[k + 1][1].lstrip(" \t\r\n")
    stray = [i for i, p in enumerate(parts) if p[0] == "text" and "}}" in p[1]]
    if stray:
        raise TemplateError(f"{where}: stray }} outside an action")
    return parts


TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<str>"(?:[^"\\]|\\.)*")
  | (?P<raw>`[^`]*`)
  | (?P<num>-?\d+(?:\.\d+)?)
  | (?P<decl>:=)
  | (?P<assign>=)
  | (?P<pipe>\|)
  | (?P<lp>\()
  | (?P<rp>\))
  | (?P<comma>,)
  | (?P<var>\$[A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*)
  | (?P<field>(?:\.[A-Za-z0-9_]+)+|\.)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
""", re.X)


def lex(expr, where):
    out = []
    i = 0
    while i < len(expr):
        m = TOKEN.match(expr, i)
        if not m:
            raise TemplateError(f"{where}: cannot read {expr[i:]!r} in {{{{ {expr} }}}}")
        kind = m.lastgroup
        if kind != "ws":
            out.append((kind, m.group()))
        i = m.end()
    return out


# ---- parsing --------------------------------------------------------------------------------


class Node:
    def __init__(self, kind, **kw):
        self.kind = kind
        self.__dict__.update(kw)


def parse(text, where):
    parts = split_actions(text, where)
    pos = 0
    defines = {}

    def block(stop):
        nonlocal pos
        nodes = []
        while pos < len(parts):
            p = parts[pos]
            if p[0] == "text":
                nodes.append(Node("text", text=p[1]))
                pos += 1
                continue
            body, line = p[1], p[4]
            at = f"{where}:{line}"
            word = body.split(None, 1)[0] if body else ""
            rest = body[len(word):].strip()
            if body.startswith("/*"):
                if not body.endswith("*/"):
                    raise TemplateError(f"{at}: unclosed comment")
                pos += 1
                continue
            if word in stop:
                return nodes, word, rest, at
            pos += 1
            if word == "if":
                branches = [(lex(rest, at), None)]
                bodies = []
                els = None
                while True:
                    inner, end, end_rest, end_at = block({"else", "end"})
                    bodies.append(inner)
                    pos += 1
                    if end == "end":
                        break
                    if end_rest.startswith("if "):
                        branches.append((lex(end_rest[3:], end_at), None))
                        continue
                    if end_rest:
                        raise TemplateError(f"{end_at}: unsupported else {end_rest}")
                    els, end2, _, end2_at = block({"end"})
                    pos += 1
                    break
                nodes.append(Node("if", conds=[b[0] for b in branches], bodies=bodies, els=els, at=at))
            elif word in ("with", "range"):
                inner, end, _, _ = block({"else", "end"})
                pos += 1
                els = None
                if end == "else":
                    els, _, _, _ = block({"end"})
                    pos += 1
                nodes.append(Node(word, pipe=lex(rest, at), body=inner, els=els, at=at))
            elif word == "define":
                name = json.loads(rest)
                inner, _, _, _ = block({"end"})
                pos += 1
                defines[name] = inner
            elif word in ("else", "end"):
                raise TemplateError(f"{at}: unexpected {word}")
            elif word in ("template", "block", "break", "continue"):
                raise TemplateError(f"{at}: {word} is not supported by tests/chart/gotemplate.py")
            else:
                nodes.append(Node("action", pipe=lex(body, at), at=at))
        if stop:
            raise TemplateError(f"{where}: missing {{{{ end }}}} (unbalanced blocks)")
        return nodes, None, None, None

    nodes, _, _, _ = block(set())
    return nodes, defines


# ---- evaluation -----------------------------------------------------------------------------


def truthy(v):
    return not (v is None or v is False or v == 0 and not isinstance(v, bool) and isinstance(v, (int, float))
                or (isinstance(v, (str, list, dict)) and len(v) == 0))


def to_text(v):
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, (dict, list)):
        raise TemplateError(f"printing a {type(v).__name__} directly; use toYaml")
    return str(v)


def go_printf(fmt, *args):
    out, k = [], 0
    i = 0
    while i < len(fmt):
        if fmt[i] == "%" and i + 1 < len(fmt):
            verb = fmt[i + 1]
            if verb == "%":
                out.append("%")
            elif verb in "sdv":
                out.append(to_text(args[k]))
                k += 1
            elif verb == "q":
                out.append(json.dumps(to_text(args[k])))
                k += 1
            else:
                raise TemplateError(f"printf verb %{verb} not supported")
            i += 2
            continue
        out.append(fmt[i])
        i += 1
    return "".join(out)


def to_yaml(v):
    if v is None:
        return "null"
    return yaml.safe_dump(v, default_flow_style=False, sort_keys=True, allow_unicode=True).rstrip("\n")


def indent(n, s):
    pad = " " * int(n)
    return "\n".join(pad + line for line in to_text(s).split("\n"))


def fail(msg):
    raise TemplateError(f"required: {msg}")


FUNCS = {
    "default": lambda d, v=None: v if truthy(v) else d,
    "trunc": lambda n, s: to_text(s)[:int(n)],
    "trimSuffix": lambda suf, s: to_text(s)[:-len(suf)] if suf and to_text(s).endswith(suf) else to_text(s),
    "quote": lambda *v: " ".join(json.dumps(to_text(x), ensure_ascii=False) for x in v),
    "squote": lambda v: "'" + to_text(v) + "'",
    "printf": go_printf,
    "contains": lambda sub, s: to_text(sub) in to_text(s),
    "toYaml": to_yaml,
    "toJson": lambda v: json.dumps(v, separators=(",", ":")),
    "nindent": lambda n, s: "\n" + indent(n, s),
    "indent": indent,
    "not": lambda v: not truthy(v),
    "eq": lambda a, *b: any(a == x for x in b),
    "ne": lambda a, b: a != b,
    "empty": lambda v: not truthy(v),
    "required": lambda msg, v: v if truthy(v) else fail(msg),
    "b64enc": lambda s: base64.b64encode(to_text(s).encode()).decode(),
    "lower": lambda s: to_text(s).lower(),
    "upper": lambda s: to_text(s).upper(),
}


class Renderer:
    def __init__(self, files):
        """files: {name: text} of every template (including _helpers.tpl)."""
        self.trees = {}
        self.defines = {}
        for name, text in files.items():
            nodes, defines = parse(text, name)
            self.trees[name] = nodes
            self.defines.update(defines)

    def render(self, name, root):
        return self._nodes(self.trees[name], root, {"$": root})

    def _nodes(self, nodes, dot, scope):
        out = []
        for n in nodes:
            if n.kind == "text":
                out.append(n.text)
            elif n.kind == "action":
                v = self._pipe(n.pipe, dot, scope, n.at, allow_decl=True)
                if v is not _DECLARED:
                    out.append(to_text(v))
            elif n.kind == "if":
                for cond, body in zip(n.conds, n.bodies):
                    if truthy(self._pipe(cond, dot, scope, n.at)):
                        out.append(self._nodes(body, dot, dict(scope)))
                        break
                else:
                    if n.els is not None:
                        out.append(self._nodes(n.els, dot, dict(scope)))
            elif n.kind == "with":
                v = self._pipe(n.pipe, dot, scope, n.at)
                if truthy(v):
                    out.append(self._nodes(n.body, v, dict(scope)))
                elif n.els is not None:
                    out.append(self._nodes(n.els, dot, dict(scope)))
            elif n.kind == "range":
                toks = n.pipe
                names = []
                if any(t[0] == "decl" for t in toks):
                    k = [t[0] for t in toks].index("decl")
                    names = [t[1] for t in toks[:k] if t[0] == "var"]
                    toks = toks[k + 1:]
                v = self._pipe(toks, dot, scope, n.at)
                items = sorted(v.items()) if isinstance(v, dict) else list(enumerate(v or []))
                if not items and n.els is not None:
                    out.append(self._nodes(n.els, dot, dict(scope)))
                for key, item in items:
                    s = dict(scope)
                    if len(names) == 1:
                        s[names[0]] = item
                    elif len(names) == 2:
                        s[names[0]], s[names[1]] = key, item
                    out.append(self._nodes(n.body, item, s))
        return "".join(out)

    def _pipe(self, toks, dot, scope, at, allow_decl=False):
        decl = None
        if len(toks) >= 2 and toks[0][0] == "var" and toks[1][0] in ("decl", "assign"):
            if not allow_decl:
                raise TemplateError(f"{at}: declaration not allowed here")
            decl = toks[0][1]
            toks = toks[2:]
        cmds, cur, depth = [], [], 0
        for t in toks:
            if t[0] == "pipe" and depth == 0:
                cmds.append(cur)
                cur = []
                continue
            depth += t[0] == "lp"
            depth -= t[0] == "rp"
            cur.append(t)
        cmds.append(cur)
        value = _NONE
        for cmd in cmds:
            value = self._command(cmd, dot, scope, at, value)
        if decl:
            scope[decl] = value
            return _DECLARED
        return value

    def _command(self, toks, dot, scope, at, piped):
        operands = self._operands(toks, dot, scope, at)
        if not operands:
            raise TemplateError(f"{at}: empty command")
        head = operands[0]
        if isinstance(head, _Func):
            args = operands[1:] + ([] if piped is _NONE else [piped])
            if head.name == "include":
                name, ctx = args
                if name not in self.defines:
                    raise TemplateError(f"{at}: include of undefined template {name!r}")
                return self._nodes(self.defines[name], ctx, {"$": scope["$"]})
            if head.name in ("and", "or"):
                result = args[0]
                for a in args:
                    result = a
                    if (head.name == "and") != truthy(a):
                        return a
                return result
            if head.name not in FUNCS:
                raise TemplateError(f"{at}: function {head.name} is not supported by tests/chart/gotemplate.py")
            try:
                return FUNCS[head.name](*args)
            except TemplateError as e:
                raise TemplateError(f"{at}: {e}") from None
            except TypeError as e:
                raise TemplateError(f"{at}: {head.name}: {e}") from None
        if len(operands) != 1 or piped is not _NONE:
            raise TemplateError(f"{at}: cannot call a non-function")
        return head

    def _operands(self, toks, dot, scope, at):
        out, i = [], 0
        while i < len(toks):
            kind, text = toks[i]
            if kind == "lp":
                depth, j = 1, i + 1
                while depth:
                    if j >= len(toks):
                        raise TemplateError(f"{at}: unbalanced (")
                    depth += toks[j][0] == "lp"
                    depth -= toks[j][0] == "rp"
                    j += 1
                out.append(self._pipe(toks[i + 1:j - 1], dot, scope, at))
                i = j
                continue
            if kind == "str":
                out.append(json.loads(text))
            elif kind == "raw":
                out.append(text[1:-1])
            elif kind == "num":
                out.append(float(text) if "." in text else int(text))
            elif kind == "field":
                out.append(self._lookup(dot, text, at))
            elif kind == "var":
                name, _, path = text.partition(".")
                if name not in scope:
                    raise TemplateError(f"{at}: undefined variable {name}")
                out.append(self._lookup(scope[name], "." + path if path else ".", at))
            elif kind == "ident":
                if text in ("true", "false"):
                    out.append(text == "true")
                elif text == "nil":
                    out.append(None)
                else:
                    out.append(_Func(text))
            else:
                raise TemplateError(f"{at}: unexpected {text!r}")
            i += 1
        return out

    def _lookup(self, obj, path, at):
        if path == ".":
            return obj
        cur = obj
        walked = ""
        for key in path.strip(".").split("."):
            walked += "." + key
            if not isinstance(cur, dict) or key not in cur:
                raise TemplateError(f"{at}: {walked} does not exist")
            cur = cur[key]
        return cur


class _Func:
    def __init__(self, name):
        self.name = name


_NONE = object()
_DECLARED = object()
