"""Reading a URDF's XML safely, and its numbers and file names strictly, for :mod:`n4d4d.io.urdf`.

What it does: parses the file with lxml without resolving entities, loading DTDs or touching
the network (so XXE and entity-expansion files fail cleanly), keeping each element's source
line; reads attributes as numbers of a given arity that must be finite (and positive or
non-negative where the URDF spec says so); resolves mesh file names (``package://``, relative,
absolute, ``file://``) and refuses those outside the URDF's folder tree or a package folder.
Every failure is a typed error (:class:`~n4d4d.errors.MalformedFileError`,
:class:`~n4d4d.errors.UnsafePathError`, :class:`~n4d4d.errors.MissingFileError`) whose message
names the element and its line, e.g. ``<joint name='j'> (line 12): limit lower="x" is not a
number``. URDFs written out of xacro sometimes keep roslaunch substitution args in attribute
values (pybullet's husky: ``rpy="$(optenv HUSKY_IMU_RPY 0 -1.5708 3.1416)"``); ``$(env NAME)`` and
``$(optenv NAME [default])`` are expanded as roslaunch does (the environment variable, else the
default) and ``$(find PKG)`` as ``package://PKG``; any other substitution (``$(arg x)``,
``$(eval ...)``) is an error that says to run xacro first.

What it does not: interpret links and joints (that is :mod:`n4d4d.io.urdf`).
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path
from urllib.parse import unquote

import numpy as np

from n4d4d.errors import MalformedFileError, MissingFileError, UnsafePathError

#: Largest |length| (m) accepted in a URDF, the same bound as a mesh file's coordinates.
MAX_LENGTH_M = 1e15
#: How many folders above the URDF's own a ``package://NAME/`` folder is looked for (the ROS
#: layouts ``NAME/urdf/robot.urdf`` and ``ws/src/{robot,NAME}/urdf/robot.urdf`` need 2);
#: folders listed in ``$ROS_PACKAGE_PATH`` are searched too.
PACKAGE_SEARCH_LEVELS = 3


def where(el) -> str:
    """How messages name an element: ``<joint name='j'> (line 12)``."""
    name = el.get("name")
    label = f"<{el.tag} name='{name}'>" if name is not None else f"<{el.tag}>"
    return f"{label} (line {el.sourceline})" if el.sourceline else label


def fail(el, problem: str, path, cls=MalformedFileError):
    """The error for ``problem`` at element ``el`` (not raised)."""
    if cls is MalformedFileError:
        return cls(f"{where(el)}: {problem}", path, line=el.sourceline)
    return cls(f"{where(el)}: {problem}", path)


def read_xml(path: Path):
    """The root element of a URDF file, parsed without entities, DTDs or network access.

    Trailing NUL bytes are dropped first (tinyxml2, PyBullet's reader, ignores them too).

    Raises MalformedFileError (with the parser's line) for malformed XML.
    """
    from lxml import etree

    # trailing NUL bytes (pybullet_data's humanoid.urdf ends in one, padding a C writer left)
    # are not XML; libxml2 calls them "extra content", tinyxml2 (PyBullet's reader) ignores them
    data = path.read_bytes().rstrip(b"\x00")
    # pybullet_data writes <?xml version="0.0" ?>, which libxml2 refuses: read it as 1.0
    data = re.sub(rb"""^(\s*<\?xml[^>]*?version\s*=\s*["'])0\.0(["'])""", rb"\g<1>1.0\g<2>", data, count=1)
    lead = re.match(rb"(\s+)(<\?xml[^>]*\?>)", data)  # blank lines before the declaration: move them after it
    if lead:
        data = lead.group(2) + lead.group(1) + data[lead.end():]
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, remove_comments=True,
                             remove_pis=True, huge_tree=False)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        msg = re.sub(r", line \d+, column \d+$", "", exc.msg or str(exc))
        raise MalformedFileError(f"malformed URDF XML (line {exc.lineno}): {msg}", path, line=exc.lineno) from exc
    if root is None:
        raise MalformedFileError("the URDF file holds no XML element", path)
    return root


_SUBSTITUTION = re.compile(r"\$\(\s*(\w+)((?:\s+[^()\s]+)*)\s*\)")


def expand_substitutions(text: str, el, attr: str, path) -> str:
    """``text`` with roslaunch substitution args expanded (ROS wiki, roslaunch/XML, "substitution args").

    ``$(env NAME)``: the environment variable NAME (an error when unset); ``$(optenv NAME
    [default ...])``: NAME if set, else the rest of the words (possibly none); ``$(find PKG)``:
    ``package://PKG`` (resolved like any package URL). Text without ``$(`` is returned unchanged.

    Raises MalformedFileError naming the element and attribute for ``$(env)`` of an unset variable
    and for any other substitution (``$(arg ...)``, ``$(eval ...)``: xacro's, which only xacro can
    expand).
    """
    if "$(" not in text:
        return text

    def one(m: re.Match) -> str:
        kind, words = m.group(1), m.group(2).split()
        if kind == "optenv" and words:
            return os.environ.get(words[0], " ".join(words[1:]))
        if kind == "env" and len(words) == 1:
            if words[0] not in os.environ:
                raise fail(el, f'{attr}="{text}": environment variable {words[0]} is not set', path)
            return os.environ[words[0]]
        if kind == "find" and len(words) == 1:
            return f"package://{words[0]}"
        raise fail(el, f'{attr}="{text}": the substitution $({kind} ...) is not expanded; run xacro on the '
                   "file first (xacro robot.urdf.xacro > robot.urdf)", path)

    out = _SUBSTITUTION.sub(one, text)
    if "$(" in out:
        raise fail(el, f'{attr}="{text}" holds a malformed substitution $(...)', path)
    return out


def numbers(el, attr: str, n: int | tuple[int, ...], path, default=None, *, sign: str = "",
            length: bool = False, notes: list[str] | None = None) -> np.ndarray:
    """Attribute ``attr`` of ``el`` as ``(n,) float64``.

    Args:
        n: the arity (or the arities allowed). default: used when the attribute is absent
            (None: it is required). sign: ``"+"`` every number > 0, ``"0+"`` >= 0.
        length: a length in metres, bounded by :data:`MAX_LENGTH_M`.
        notes: when given, a 3-vector written with more than three numbers (pybullet_data's
            microtaur: ``rpy="-3.14159 1.57079 0 0"``) is read as its first three, as PyBullet's
            URDF reader does (``parseVector3`` in Bullet's ``UrdfParser.cpp``), and a note naming
            the element is appended; without ``notes`` it is an error.

    Raises MalformedFileError naming the element, the attribute as written and the line.
    """
    text = el.get(attr)
    if text is None:
        if default is None:
            raise fail(el, f"needs the attribute {attr}", path)
        return np.array(default, dtype=np.float64)
    text = expand_substitutions(text, el, attr, path)
    parts = text.replace(",", " ").split()  # PyBullet reads "1, 2, 3" too
    arity = (n,) if isinstance(n, int) else n
    if notes is not None and arity == (3,) and len(parts) > 3:
        notes.append(f'URDF {where(el)}: {attr}="{text}" has {len(parts)} numbers: the first three are read, '
                     "as PyBullet does")
        parts = parts[:3]
    if len(parts) not in arity:
        want = " or ".join(map(str, arity))
        raise fail(el, f'{attr}="{text}" needs {want} number{"s" if arity != (1,) else ""}, got {len(parts)}', path)
    try:
        vals = [float(x) for x in parts]
    except ValueError:
        raise fail(el, f'{attr}="{text}" is not ' + ("a number" if arity == (1,) else f"{len(parts)} numbers"),
                   path) from None
    if not all(math.isfinite(v) for v in vals):
        raise fail(el, f'{attr}="{text}" is not finite', path)
    if length and max(abs(v) for v in vals) > MAX_LENGTH_M:
        raise fail(el, f'{attr}="{text}" is beyond +-{MAX_LENGTH_M:.0e} m', path)
    if sign == "+" and min(vals) <= 0:
        raise fail(el, f'{attr}="{text}" must be positive', path)
    if sign == "0+" and min(vals) < 0:
        raise fail(el, f'{attr}="{text}" must not be negative', path)
    return np.array(vals, dtype=np.float64)


def number(el, attr: str, path, default=None, **kw) -> float:
    """One number (see :func:`numbers`)."""
    return float(numbers(el, attr, 1, path, None if default is None else [default], **kw)[0])


def _package_roots(pkg: str, base: Path) -> list[Path]:
    """Folders that may be the package ``pkg``: ``D/pkg`` for D the URDF's folder and up to
    :data:`PACKAGE_SEARCH_LEVELS` above it (never the file system's root), and the entries of
    ``$ROS_PACKAGE_PATH`` (an entry named ``pkg``, or ``entry/pkg``)."""
    out = []
    for level, folder in enumerate((base, *base.parents)):
        if level > PACKAGE_SEARCH_LEVELS or folder.parent == folder:
            break
        out.append(folder / pkg)
    for entry in filter(None, os.environ.get("ROS_PACKAGE_PATH", "").split(os.pathsep)):
        e = Path(entry)
        out += [e] if e.name == pkg else [e / pkg]
    return out


def resolve_mesh_path(filename: str, urdf_path: Path, el=None) -> Path:
    """Resolve a URDF mesh ``filename`` and check that it may be read.

    Substitution args are expanded first when ``el`` is given (:func:`expand_substitutions`).
    ``package://pkg/rest`` is looked for as ``D/pkg/rest`` (see :func:`_package_roots`) and
    must stay inside that package folder; relative names are relative to the URDF's folder;
    absolute paths and ``file://`` URLs are accepted only inside the URDF's folder tree. The
    result must be an existing regular file.

    Raises:
        UnsafePathError: a name outside the URDF's folder tree or its package, or another URL
            scheme (``http://``, ...). MissingFileError: no such file, or not a regular file.
    """
    base = urdf_path.parent.resolve()
    tag = where(el) + ": " if el is not None else ""
    if el is not None:  # "$(find pkg)/meshes/a.stl" is package://pkg/meshes/a.stl
        filename = expand_substitutions(filename, el, "filename", urdf_path)
    if filename.startswith("package://"):
        rest = unquote(filename[len("package://"):])
        pkg, _, sub = rest.partition("/")
        roots = _package_roots(pkg, base) if pkg and sub else []
        for root in roots:
            cand = (root / sub).resolve()
            if cand.exists():
                if not cand.is_relative_to(root.resolve()):
                    raise UnsafePathError(f"{tag}mesh '{filename}' leaves its package folder", urdf_path)
                return _regular(cand, filename, urdf_path, tag)
        raise MissingFileError(f"{tag}mesh '{filename}' not found: no folder '{pkg}' holding '{sub}' in the URDF's "
                               f"folder or the {PACKAGE_SEARCH_LEVELS} above it (or $ROS_PACKAGE_PATH)", urdf_path)
    if filename.startswith("file://"):
        name = unquote(filename[len("file://"):])
    elif re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", filename):
        raise UnsafePathError(f"{tag}mesh '{filename}': only package://, file:// and plain file names are read",
                              urdf_path)
    else:
        name = filename
    p = Path(name)
    cand = (p if p.is_absolute() else base / p).resolve()
    if not cand.is_relative_to(base):
        raise UnsafePathError(f"{tag}mesh '{filename}' lies outside the URDF's folder tree ({base}); "
                              "put it there or name it package://PACKAGE/...", urdf_path)
    return _regular(cand, filename, urdf_path, tag)


def _regular(cand: Path, filename: str, urdf_path: Path, tag: str) -> Path:
    if not cand.exists():
        raise MissingFileError(f"{tag}mesh '{filename}' not found", urdf_path)
    if not cand.is_file():
        raise MissingFileError(f"{tag}mesh '{filename}' is not a regular file", urdf_path)
    return cand
