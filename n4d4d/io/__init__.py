"""Reading inputs and writing files safely: mesh loading (:mod:`n4d4d.io.load`), the
pybullet_data samples (:mod:`n4d4d.io.samples`) and atomic writes (:mod:`n4d4d.io.atomic`)."""
