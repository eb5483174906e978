"""The package's shape, checked: no import cycles between its modules, no module over
400 lines, the project's own imports at the top of modules, and no library message that
names a command-line option (the command line maps parameters to its options)."""

import ast
import re
from pathlib import Path

import noise2noise

PACKAGE = Path(noise2noise.__file__).parent
MODULES = sorted(PACKAGE.rglob("*.py"))


def _name(path: Path) -> str:
    parts = ["noise2noise", *path.relative_to(PACKAGE).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _resolve(path: Path, node: ast.ImportFrom) -> list[str]:
    """The project modules an ``import from`` statement loads (relative or absolute)."""
    if node.level == 0:
        base = node.module or ""
        if not base.startswith("noise2noise"):
            return []
    else:
        package = _name(path).split(".")
        if path.name != "__init__.py":
            package = package[:-1]
        package = package[: len(package) - (node.level - 1)]
        base = ".".join([*package, node.module] if node.module else package)
    known = {_name(p) for p in MODULES}
    targets = [base] if base in known else []
    targets += [f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in known]
    return targets


def _top_level_imports() -> dict[str, set[str]]:
    graph = {}
    for path in MODULES:
        tree = ast.parse(path.read_text())
        edges = set()
        for node in tree.body:  # module level only: imports inside functions run later
            if isinstance(node, ast.ImportFrom):
                edges.update(_resolve(path, node))
            elif isinstance(node, ast.Try):
                for inner in ast.walk(node):
                    if isinstance(inner, ast.ImportFrom):
                        edges.update(_resolve(path, inner))
        graph[_name(path)] = edges - {_name(path)}
    return graph


def test_no_import_cycles():
    graph = _top_level_imports()  # a package's __init__ counts as the package
    state: dict[str, int] = {}
    stack: list[str] = []
    cycles = []

    def visit(module: str) -> None:
        state[module] = 1
        stack.append(module)
        for target in sorted(graph.get(module, ())):
            if state.get(target) == 1:
                cycles.append(" -> ".join([*stack[stack.index(target) :], target]))
            elif target not in state:
                visit(target)
        stack.pop()
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module)
    assert not cycles, "\n".join(cycles)


def test_no_module_over_400_lines():
    long = [
        f"{p.relative_to(PACKAGE)}: {n}"
        for p in MODULES
        if (n := len(p.read_text().splitlines())) > 400
    ]
    assert not long, long


def test_warnings_are_raised_through_warn_user():
    """A counted `stacklevel` is wrong as soon as a layer is added between the user and
    the warning (a decorator made the notes of `denoise_image` name a line of ours):
    `errors.warn_user` finds the caller's line itself."""
    direct = []
    for path in MODULES:
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "warn"
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "warnings"
            ):
                direct.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert direct == ["errors.py:" + str(_line_of("errors.py", "warnings.warn("))], direct


def _line_of(module: str, text: str) -> int:
    lines = (PACKAGE / module).read_text().splitlines()
    return next(i for i, line in enumerate(lines, 1) if text in line.strip())


def test_the_projects_imports_are_at_the_top_of_modules():
    hidden = []
    for path in MODULES:
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for inner in ast.walk(node):
                    if isinstance(inner, ast.ImportFrom) and _resolve(path, inner):
                        hidden.append(f"{path.relative_to(PACKAGE)}:{inner.lineno}")
    # The one allowed: the optional Dask/zarr runs, loaded only when asked for.
    allowed = {"cli/denoise.py"}
    assert [h for h in hidden if h.split(":")[0] not in allowed] == []


def test_no_library_message_names_a_command_line_option():
    flag = re.compile(r"""["'][^"'\n]*(?<![\w-])--[a-z][a-z-]+""")  # a string with "--option"
    offenders = []
    for path in MODULES:
        if "cli" in path.relative_to(PACKAGE).parts:
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            code = line.split("#")[0]
            if flag.search(code) and "help" not in code and "n2n " not in code:  # not a command
                offenders.append(f"{path.name}:{number}: {line.strip()}")
    assert not offenders, "\n".join(offenders)


def _calls_without_encoding(source: str) -> list[int]:
    """Lines of ``open(...)`` (not binary), ``.read_text()`` and ``.write_text()`` calls
    in ``source`` that leave the encoding to the locale."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call) or any(k.arg == "encoding" for k in node.keywords):
            continue
        f = node.func
        if isinstance(f, ast.Name) and f.id == "open":
            mode = node.args[1] if len(node.args) > 1 else None
            mode = next((k.value for k in node.keywords if k.arg == "mode"), mode)
            if not (isinstance(mode, ast.Constant) and "b" in mode.value):
                lines.append(node.lineno)
        elif isinstance(f, ast.Attribute) and f.attr in ("read_text", "write_text"):
            lines.append(node.lineno)
    return lines


def test_the_encoding_check_finds_bare_text_calls():
    probe = "open(p)\nopen(p, 'rb')\np.read_text()\np.write_text(s, encoding='utf-8')\n"
    assert _calls_without_encoding(probe) == [1, 3]


def test_text_files_are_read_and_written_as_utf8():
    # Without an encoding Python uses the locale's: cp1252 on Windows, which cannot write
    # the minus and times signs of RESULTS.md, nor read back a UTF-8 CSV.
    found = {}
    for path in MODULES:
        if lines := _calls_without_encoding(path.read_text(encoding="utf-8")):
            found[str(path.relative_to(PACKAGE))] = lines
    assert found == {}
