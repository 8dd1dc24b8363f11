"""The SSA static generator: a corpus of sparse SDF volumes, the sparse SDF VAE (SS-VAE), and flows that sample it.

Modules (each imports torch only when imported itself; ``import n4d4d.generator`` is light):

* :mod:`~n4d4d.generator.sparse_conv`: submanifold sparse convolution, 2x downsampling and 2x
  subdivision in plain torch over neighbour maps cached per resolution;
* :mod:`~n4d4d.generator.attention`: shifted-window self-attention on sparse voxels;
* :mod:`~n4d4d.generator.vae`: the SS-VAE (Direct3D-S2, Wu et al. 2025) and its config;
* :mod:`~n4d4d.generator.losses`: SDF regression with sharp-edge weights, KL, pruning BCE;
* :mod:`~n4d4d.generator.codec`: SparseSDF <-> tensors, encode/decode one volume, decoded surface;
* :mod:`~n4d4d.generator.checkpoint`: JSON config + safetensors checkpoints (never unpickled);
  the shipped one is ``weights/ssvae_cpu.safetensors`` (model card ``weights/MODEL_CARD.md``);
* :mod:`~n4d4d.generator.store`: compact corpus files (occupancy bits + int8 SDF);
* :mod:`~n4d4d.generator.procedural` (+ ``procedural_furniture``, ``_objects``, ``_creatures``):
  seeded procedural shape families with parts and joints;
* :mod:`~n4d4d.generator.corpus`: corpus building and reading (manifest, splits, npz volumes);
* :mod:`~n4d4d.generator.train`: the training loop and named configs;
* :mod:`~n4d4d.generator.metrics`: Chamfer-L1, F-score, normal consistency, volume IoU, watertightness.

Part 2, sampling new shapes (model card ``weights/FLOW_MODEL_CARD.md``):

* :mod:`~n4d4d.generator.structure`: the rectified-flow model of the 16^3 latent-cell occupancy;
* :mod:`~n4d4d.generator.flow`: the sparse latent flow transformer with Spatial Sparse Attention;
* :mod:`~n4d4d.generator.sampler`: Euler sampling with TRELLIS's time shift and CFG intervals;
* :mod:`~n4d4d.generator.latents`: the corpus encoded once into latents, structure grids;
* :mod:`~n4d4d.generator.flow_train`: training both flows (``n4d4d train flow``);
* :mod:`~n4d4d.generator.generate`: :class:`~n4d4d.generator.generate.FlowGenerator`, ``generate``;
* :mod:`~n4d4d.generator.solid`: a sample's decoded band to one smooth closed solid;
* :mod:`~n4d4d.generator.categories`: free-text category names; :mod:`~n4d4d.generator.evaluate`:
  MMD / COV / 1-NNA, LP-IoU / Div-IoU.
"""
