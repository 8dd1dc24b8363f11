"""3MF export (``asset.3mf``) through trimesh, in millimetres, per the 3MF Core Specification.

One ``<object type="model">`` per part (its visual mesh, placed at rest pose in the asset
frame) and one build item each; the model's ``unit`` is ``"millimeter"`` (3MF Core spec,
chapter 3: the default unit, and the one trimesh writes), so coordinates are n4d4d metres
times 1000. 3MF's build volume is Z up like n4d4d, so no axis change is needed.

The package trimesh writes is then made reproducible and given the build's provenance
(:func:`finish_package`): the Production extension's ``p:UUID`` of every object, item and
build (random in trimesh) become name-based UUIDs (RFC 4122 version 5) of the asset name and
the element's place, and the model gets ``<metadata name="n4d4d:seed">`` (and
``n4d4d:source``), namespace-qualified as 3MF Core section 4.3 requires of names outside its
list. Zip entries keep a fixed date, so two exports of one asset are byte-identical.

Each part's base colour is a ``<base>`` of one ``<basematerials>`` group (3MF Core section 5.1,
``displaycolor`` sRGB ``#RRGGBBAA``), referenced by its object's ``pid`` / ``pindex``. Textures,
vertex colours, joints and physics are not written: 3MF here is for printing the shape.
"""

from __future__ import annotations

import io
import uuid
import zipfile
from pathlib import Path

import numpy as np

from n4d4d.asset import Asset
from n4d4d.errors import ExportError
from n4d4d.io.atomic import atomic_write_bytes
from n4d4d.kinematics import kinematic_tree, safe_name

from ._common import part_visual

#: Millimetres per metre: 3MF model unit "millimeter".
MM_PER_M = 1000.0

#: XML namespaces: 3MF core, the Production extension (``p:UUID``), and n4d4d's metadata.
CORE_NS = "http://schemas.microsoft.com/3dmanufacturing/core/2015/02"
PRODUCTION_NS = "http://schemas.microsoft.com/3dmanufacturing/production/2015/06"
N4D4D_NS = "urn:n4d4d:metadata"
MODEL_PART = "3D/3dmodel.model"


def write_3mf(asset: Asset, path: Path) -> Path:
    """Write each part's visual mesh of ``asset`` into a 3MF package at ``path`` (mm).

    Returns ``path``. Raises :class:`ExportError` when the asset has no parts or a part's
    mesh is empty; the file is written atomically.
    """
    import trimesh

    path = Path(path)
    if not asset.parts:
        raise ExportError("3MF export needs at least one part", asset.name)
    scene = trimesh.Scene(base_frame=safe_name(asset.name))
    colors = {}
    for f in kinematic_tree(asset):
        vis, _ = part_visual(asset, f.part)
        if len(vis.faces) == 0:
            raise ExportError(f"part '{f.part.name}' has an empty visual mesh", asset.name)
        tm = trimesh.Trimesh(np.asarray(vis.vertices) * MM_PER_M, vis.faces, process=False)
        scene.add_geometry(tm, node_name=f.name, geom_name=f.name)
        if vis.base_color is not None:
            colors[f.name] = np.asarray(vis.base_color, np.float64)
    atomic_write_bytes(path, finish_package(scene.export(file_type="3mf"), asset, colors))
    return path


def display_color(rgba) -> str:
    """``#RRGGBBAA`` of an RGBA colour in [0, 1] (3MF Core ``ST_ColorValue``, sRGB)."""
    c = np.round(np.clip(np.asarray(rgba, np.float64).reshape(4), 0.0, 1.0) * 255).astype(int)
    return "#" + "".join(f"{x:02X}" for x in c)


def finish_package(data: bytes, asset: Asset, colors: dict | None = None) -> bytes:
    """The 3MF package ``data`` with content-derived ``p:UUID`` values, n4d4d metadata, the
    parts' colours (``colors``: object name -> RGBA in [0, 1]) and fixed zip dates (module
    docstring). Entry order and compression are kept."""
    from lxml import etree

    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename == MODEL_PART:
                body = _model_xml(etree.fromstring(body), asset, colors or {})
            entry = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            entry.compress_type, entry.external_attr = info.compress_type, info.external_attr
            dst.writestr(entry, body)
    return out.getvalue()


def _model_xml(root, asset: Asset, colors: dict) -> bytes:
    from lxml import etree

    resources = root.find(f"{{{CORE_NS}}}resources")
    named = [o for o in resources.findall(f"{{{CORE_NS}}}object") if o.get("name") in colors] \
        if resources is not None else []
    if named:  # one <basematerials> group, before the objects that use it (3MF Core 4.1, 5.1)
        group_id = str(1 + max(int(el.get("id")) for el in resources if el.get("id", "").isdigit()))
        group = etree.Element(f"{{{CORE_NS}}}basematerials", id=group_id)
        for k, obj in enumerate(named):
            etree.SubElement(group, f"{{{CORE_NS}}}base", name=obj.get("name"),
                             displaycolor=display_color(colors[obj.get("name")]))
            obj.set("pid", group_id)
            obj.set("pindex", str(k))
        resources.insert(0, group)

    key = f"{{{PRODUCTION_NS}}}UUID"
    counts: dict[str, int] = {}
    for el in root.iter():
        if key in el.attrib:
            tag = etree.QName(el).localname
            place = el.get("id") if tag == "object" else str(counts.get(tag, 0))
            counts[tag] = counts.get(tag, 0) + 1
            el.set(key, str(uuid.uuid5(uuid.NAMESPACE_URL, f"n4d4d:{asset.name}:{tag}:{place}")))
    model = etree.Element(root.tag, attrib=dict(root.attrib), nsmap={**root.nsmap, "n4d4d": N4D4D_NS})
    meta = {"seed": str(int(asset.provenance.seed)), "source": str(asset.provenance.source)} if asset.provenance else {}
    for name, value in meta.items():  # metadata comes before resources (3MF Core 4.3)
        etree.SubElement(model, f"{{{CORE_NS}}}metadata", name=f"n4d4d:{name}").text = value
    model.extend(list(root))
    return etree.tostring(model, xml_declaration=True, encoding="UTF-8")

