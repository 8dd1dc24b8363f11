"""Sparse signed-distance volumes and watertight remeshing.

- :class:`SparseSDF`: a narrow-band signed-distance field stored block-sparse.
- :func:`compute_sparse_sdf`: any triangle mesh (open, non-manifold, self-intersecting soup)
  to a :class:`SparseSDF`, coarse to fine, sign from the generalized winding number.
- :func:`extract_surface`: marching cubes over the occupied blocks; closed manifold shells.
- :func:`decimate`: quadric simplification to a face budget that keeps the mesh closed.
- :func:`mesh_quality`: watertight / manifold / orientation / volume figures.
- :func:`remesh_watertight`: the static stage's remesh, all of the above with figures.
- :func:`unique_rows`: distinct rows of an integer array (vertex welding by exact bits).
- :func:`solidify`: an open sheet given a thickness (``--solidify T``), a closed solid.
- :func:`close_solid`: one part (or any mesh) closed faithfully: resolution from its thinnest
  feature, polygon / membrane hole caps, a shell about sheets and open containers.
- :func:`snap_to_input`: a remesh's vertices moved back onto the input where it has surface.

Heavy dependencies (warp, libigl, scikit-image, fast_simplification) load on first use.
"""

from n4d4d.volume._chain import unique_rows
from n4d4d.volume.simplify import decimate
from n4d4d.volume.extract import extract_surface
from n4d4d.volume.quality import mesh_quality
from n4d4d.volume.remesh import remesh_watertight
from n4d4d.volume.sdf import compute_sparse_sdf, estimate_memory_bytes
from n4d4d.volume.solidify import solidify
from n4d4d.volume.solids import close_solid
from n4d4d.volume.snap import snap_to_input
from n4d4d.volume.sparse import SparseSDF

__all__ = ["SparseSDF", "close_solid", "compute_sparse_sdf", "decimate", "estimate_memory_bytes",
           "extract_surface", "mesh_quality", "remesh_watertight", "snap_to_input", "solidify",
           "unique_rows"]
