"""Keep the input's colours on the watertight mesh: a UV atlas and a baked base-colour texture,
or per-vertex colours, transferred by closest-point lookup on the input surface.

The static stage replaces the input by a new watertight surface, so the input's UVs mean
nothing on it. :func:`transfer_appearance` gives the new mesh what the input had:

- a textured input (``uvs`` + ``texture_png``): the new mesh is unwrapped into a UV atlas by
  xatlas (Young, "xatlas", github.com/jpcy/xatlas; charts packed into one square texture), each
  covered texel is mapped to its 3D point on the new surface, the closest point of the input
  surface is found (warp BVH query), and the input texture is sampled there (bilinear, at the
  input's UVs interpolated barycentrically). Charts are padded by a few texels of dilation so
  bilinear filtering across a chart border does not fetch the empty background. The atlas
  coordinates are stored per face corner (``Mesh.face_uvs``, ``(F, 3, 2)``), so the mesh keeps
  its vertices and faces (it stays closed and manifold); exporters split vertices at UV seams
  where a format needs per-vertex UVs;
- vertex colours: interpolated at the closest input point onto the new vertices;
- a base colour factor is kept as it is (it multiplies the texture, as in glTF).

UV convention: ``Mesh.uvs`` and ``Mesh.face_uvs`` are glTF's (origin at the image's top-left
corner, v down): texel row = v * height. It does not bake normal, roughness or other maps,
and does not repaint where the remesh invented surface the input lacked (such points take the
colour of the nearest input point).
"""

from __future__ import annotations

import functools
import io

import numpy as np

#: Texels of chart padding (xatlas) and of dilation into the background after baking.
PADDING_TEXELS = 4


def texture_size_for(n_faces: int) -> int:
    """Side of the baked texture (texels) for a mesh of ``n_faces`` triangles: 512 up to 4,000
    faces, 1024 up to 40,000, else 2048 (about 50 texels per triangle or more)."""
    return 512 if n_faces <= 4000 else 1024 if n_faces <= 40000 else 2048


@functools.lru_cache(maxsize=1)
def _warp():
    from n4d4d.volume._queries import quiet_warp

    wp = quiet_warp()

    @wp.kernel(enable_backward=False)
    def closest(mesh: wp.uint64, points: wp.array(dtype=wp.vec3), max_dist: float,
                face: wp.array(dtype=wp.int32), where: wp.array(dtype=wp.vec3)):
        i = wp.tid()
        q = wp.mesh_query_point_no_sign(mesh, points[i], max_dist)
        if q.result:
            face[i] = q.face
            where[i] = wp.mesh_eval_position(mesh, q.face, q.u, q.v)
        else:
            face[i] = -1
            where[i] = points[i]

    return wp, closest


def closest_points(vertices: np.ndarray, faces: np.ndarray, points: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Closest point on the mesh ``(vertices (V, 3), faces (F, 3))`` to each of ``points (P, 3)``.

    Returns ``face (P,) int64`` (the triangle it lies on) and ``bary (P, 3) float64``
    barycentric coordinates in that triangle (rows sum to 1, clipped to the triangle).
    Exact up to float32 (warp's BVH query, no distance cap beyond the mesh's diagonal x 2).
    """
    wp, kernel = _warp()
    v = np.ascontiguousarray(vertices, np.float64)
    f = np.ascontiguousarray(faces, np.int64)
    origin = v.min(axis=0)  # float32 precision relative to the mesh, not to the world origin
    mesh = wp.Mesh(points=wp.array((v - origin).astype(np.float32), dtype=wp.vec3, device="cpu"),
                   indices=wp.array(f.astype(np.int32).ravel(), dtype=wp.int32, device="cpu"))
    pts = np.ascontiguousarray(np.asarray(points, np.float64) - origin, np.float32).reshape(-1, 3)
    face = wp.zeros(len(pts), dtype=wp.int32, device="cpu")
    where = wp.zeros(len(pts), dtype=wp.vec3, device="cpu")
    diag = float(np.linalg.norm(v.max(axis=0) - v.min(axis=0)))
    if len(pts):
        wp.launch(kernel, dim=len(pts), inputs=[mesh.id, wp.array(pts, dtype=wp.vec3, device="cpu"),
                                                 2.0 * diag + 1.0, face, where], device="cpu")
        wp.synchronize_device("cpu")
    fi = face.numpy().astype(np.int64)
    fi = np.where(fi < 0, 0, fi)
    q = where.numpy().astype(np.float64)
    return fi, barycentric(v[f[fi]] - origin, q)


def barycentric(tri: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Barycentric coordinates ``(P, 3)`` of points ``p (P, 3)`` in triangles ``tri (P, 3, 3)``,
    of the projection onto each triangle's plane, clipped to [0, 1] and renormalised."""
    a, b, c = tri[:, 0], tri[:, 1], tri[:, 2]
    v0, v1, v2 = b - a, c - a, p - a
    d00, d01, d11 = (v0 * v0).sum(1), (v0 * v1).sum(1), (v1 * v1).sum(1)
    d20, d21 = (v2 * v0).sum(1), (v2 * v1).sum(1)
    den = d00 * d11 - d01 * d01
    den = np.where(np.abs(den) > 1e-30, den, 1e-30)
    w1 = (d11 * d20 - d01 * d21) / den
    w2 = (d00 * d21 - d01 * d20) / den
    w = np.clip(np.column_stack([1.0 - w1 - w2, w1, w2]), 0.0, None)
    s = w.sum(axis=1, keepdims=True)
    return np.where(s > 0, w / np.where(s > 0, s, 1.0), 1.0 / 3.0)


def sample_texture(image: np.ndarray, uv: np.ndarray) -> np.ndarray:
    """Bilinear lookup of ``image (H, W, C) uint8`` at glTF UVs ``uv (P, 2)`` (v down, repeat
    wrapping, texel centres at half-integers). Returns ``(P, C) float64`` in 0..255."""
    h, w = image.shape[:2]
    x = np.asarray(uv[:, 0], np.float64) * w - 0.5
    y = np.asarray(uv[:, 1], np.float64) * h - 0.5
    x0, y0 = np.floor(x), np.floor(y)
    fx, fy = (x - x0)[:, None], (y - y0)[:, None]
    x0, y0 = x0.astype(np.int64), y0.astype(np.int64)
    img = np.asarray(image, np.float64)

    def at(yy, xx):
        return img[np.mod(yy, h), np.mod(xx, w)]

    return ((1 - fy) * ((1 - fx) * at(y0, x0) + fx * at(y0, x0 + 1))
            + fy * ((1 - fx) * at(y0 + 1, x0) + fx * at(y0 + 1, x0 + 1)))


def _decode_png(png: bytes) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(png)).convert("RGBA"))


def _encode_png(rgba: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgba, np.uint8), "RGBA").save(buf, format="PNG", optimize=False)
    return buf.getvalue()


def atlas(vertices: np.ndarray, faces: np.ndarray, size: int, seed: int = 0) -> np.ndarray:
    """xatlas UV atlas of a mesh: ``(F, 3, 2) float64`` glTF UVs (v down) per face corner in
    [0, 1], charts packed into a ``size`` x ``size`` texture with :data:`PADDING_TEXELS` of
    padding. xatlas is deterministic for a given mesh (``seed`` is unused, kept for the record)."""
    import xatlas

    pack = xatlas.PackOptions()
    pack.resolution = int(size)
    pack.padding = PADDING_TEXELS
    pack.bilinear = True
    atl = xatlas.Atlas()
    atl.add_mesh(np.ascontiguousarray(vertices, np.float32), np.ascontiguousarray(faces, np.uint32))
    atl.generate(pack_options=pack)
    vmap, indices, uvs = atl[0]
    if indices.shape != np.shape(faces) or not np.array_equal(vmap[indices], np.asarray(faces)):
        raise RuntimeError("xatlas changed the faces of the mesh it unwrapped")
    fuv = np.asarray(uvs, np.float64)[indices]  # xatlas: origin bottom-left (OpenGL), v up
    fuv[..., 1] = 1.0 - fuv[..., 1]
    return fuv


def _rasterize(face_uvs: np.ndarray, size: int, chunk: int = 4096) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Texels whose centre lies in a face's UV triangle: ``(texel_row, texel_col, face, bary)``.

    Returns rows ``(N,) int64``, cols ``(N,) int64`` and ``(face (N,) int64, bary (N, 3))``
    packed as a tuple ``(rc (N, 2), face, bary)``. Each texel belongs to the first face that
    covers it (charts do not overlap in an xatlas atlas).
    """
    px = face_uvs * size  # texel units, x = u * size, y = v * size (v down: row)
    lo = np.floor(px.min(axis=1) - 0.5).astype(np.int64)
    hi = np.ceil(px.max(axis=1) - 0.5).astype(np.int64)
    lo, hi = np.clip(lo, 0, size - 1), np.clip(hi, 0, size - 1)
    out_rc, out_f, out_b = [], [], []
    for start in range(0, len(px), chunk):
        sl = slice(start, start + chunk)
        nx, ny = hi[sl, 0] - lo[sl, 0] + 1, hi[sl, 1] - lo[sl, 1] + 1
        counts = nx * ny
        fidx = np.repeat(np.arange(start, start + len(counts)), counts)
        local = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
        cx = lo[fidx, 0] + local % np.repeat(nx, counts)
        cy = lo[fidx, 1] + local // np.repeat(nx, counts)
        p = np.column_stack([cx + 0.5, cy + 0.5])
        a, b, c = px[fidx, 0], px[fidx, 1], px[fidx, 2]
        v0, v1, v2 = b - a, c - a, p - a
        den = v0[:, 0] * v1[:, 1] - v1[:, 0] * v0[:, 1]
        ok = np.abs(den) > 1e-12
        den = np.where(ok, den, 1.0)
        w1 = (v2[:, 0] * v1[:, 1] - v1[:, 0] * v2[:, 1]) / den
        w2 = (v0[:, 0] * v2[:, 1] - v2[:, 0] * v0[:, 1]) / den
        w0 = 1.0 - w1 - w2
        eps = -1e-9
        inside = ok & (w0 >= eps) & (w1 >= eps) & (w2 >= eps)
        out_rc.append(np.column_stack([cy[inside], cx[inside]]))
        out_f.append(fidx[inside])
        out_b.append(np.column_stack([w0, w1, w2])[inside])
    rc, f, bary = np.concatenate(out_rc), np.concatenate(out_f), np.concatenate(out_b)
    key = rc[:, 0] * size + rc[:, 1]
    _, first = np.unique(key, return_index=True)
    return rc[first], f[first], bary[first]


def dilate_texels(rgba: np.ndarray, filled: np.ndarray, steps: int) -> np.ndarray:
    """Grow the filled texels of ``rgba`` into the empty ones by ``steps`` rings (mean of the
    filled 4-neighbours, the texture wrapping around at its borders as UVs repeat), so bilinear
    filtering at chart borders stays on chart colours.

    Each ring is found from the last one's neighbours, so a step costs the ring's size, not
    the texture's (a 1024^2 atlas: about 0.1 s for 8 rings instead of 1.4 s).

    Args:
        rgba: ``(H, W, 4)`` texel colours (any real dtype; 0-255).
        filled: ``(H, W) bool``, the texels that carry a colour.
        steps: rings to grow.

    Returns:
        ``(H, W, 4) uint8``: the grown texture, rounded.
    """
    h, w = filled.shape
    img = rgba.astype(np.float64).reshape(-1, rgba.shape[-1])
    mask = filled.reshape(-1).copy()
    last = np.flatnonzero(mask)
    # the neighbour order of the sum (up, down, left, right) is fixed, so results are reproducible
    offsets = ((-1, 0), (1, 0), (0, -1), (0, 1))
    for _ in range(steps):
        r, c = np.divmod(last, w)
        cand = np.concatenate([((r + dy) % h) * w + (c + dx) % w for dy, dx in offsets])
        cand = np.unique(cand[~mask[cand]])
        if len(cand) == 0:
            break
        rc, cc = np.divmod(cand, w)
        acc = np.zeros((len(cand), img.shape[1]))
        cnt = np.zeros(len(cand))
        for dy, dx in offsets:
            nb = ((rc + dy) % h) * w + (cc + dx) % w
            m = mask[nb]
            acc += img[nb] * m[:, None]
            cnt += m
        img[cand] = acc / cnt[:, None]
        mask[cand] = True
        last = cand
    return np.clip(np.round(img), 0, 255).astype(np.uint8).reshape(rgba.shape)


def bake_texture(target, source, size: int | None = None) -> tuple[np.ndarray, bytes, dict]:
    """Atlas and base-colour texture of ``target`` sampled from the textured ``source``.

    Args:
        target: :class:`~n4d4d.asset.Mesh` to give a texture (asset frame, m).
        source: textured :class:`~n4d4d.asset.Mesh` (``uvs`` glTF convention, ``texture_png``),
            in the same frame.
        size: texture side in texels; default :func:`texture_size_for` of the face count.

    Returns:
        ``(face_uvs (F, 3, 2) float64, png bytes (RGBA), figures)``; figures: texture size,
        texels baked, charts' share of the texture, seconds.
    """
    import time

    t0 = time.perf_counter()
    size = int(size or texture_size_for(len(target.faces)))
    fuv = atlas(target.vertices, target.faces, size)
    t1 = time.perf_counter()
    rc, face, bary = _rasterize(fuv, size)
    tri = np.asarray(target.vertices)[np.asarray(target.faces)[face]]
    points = np.einsum("nk,nkd->nd", bary, tri)
    sface, sbary = closest_points(source.vertices, source.faces, points)
    suv = np.einsum("nk,nkd->nd", sbary, np.asarray(source.uvs)[np.asarray(source.faces)[sface]])
    colors = sample_texture(_decode_png(source.texture_png), suv)
    rgba = np.zeros((size, size, 4), np.float64)
    rgba[rc[:, 0], rc[:, 1]] = colors
    filled = np.zeros((size, size), bool)
    filled[rc[:, 0], rc[:, 1]] = True
    png = _encode_png(dilate_texels(rgba, filled, 2 * PADDING_TEXELS))
    figures = {"texture_size": size, "texels_baked": int(len(rc)),
               "atlas_coverage": float(len(rc)) / size ** 2,
               "seconds": {"atlas": t1 - t0, "bake": time.perf_counter() - t1}}
    return fuv, png, figures


def transfer_appearance(target, source):
    """``target`` (:class:`~n4d4d.asset.Mesh`) with the colours of ``source`` (same frame).

    A textured source gives ``face_uvs`` + ``texture_png`` (:func:`bake_texture`), vertex
    colours give ``vertex_colors`` (closest-point interpolation); the base colour is kept.
    Returns ``(mesh, figures)``; a source with none of these returns ``target`` unchanged.
    Figures: ``{"appearance": "texture" | "vertex_colors" | "base_color" | "none", ...}``.
    """
    base = target.base_color if target.base_color is not None else source.base_color
    if source.uvs is not None and source.texture_png is not None:
        fuv, png, figures = bake_texture(target, source)
        return target.replace(face_uvs=fuv, texture_png=png, uvs=None, base_color=base,
                              vertex_colors=None), {"appearance": "texture", **figures}
    if source.vertex_colors is not None:
        face, bary = closest_points(source.vertices, source.faces, target.vertices)
        cols = np.einsum("nk,nkd->nd", bary,
                         np.asarray(source.vertex_colors, np.float64)[np.asarray(source.faces)[face]])
        return (target.replace(vertex_colors=np.clip(np.round(cols), 0, 255).astype(np.uint8), base_color=base),
                {"appearance": "vertex_colors"})
    if base is not None:
        return target.replace(base_color=base), {"appearance": "base_color"}
    return target, {"appearance": "none"}
