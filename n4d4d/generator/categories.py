"""Category names of the generator: free text to the nearest known category, or a clear error.

What it does: :func:`resolve_category` maps what a user types (``"Mug"``, ``"cups"``, ``"coffee
cup"``, ``"lidded box"``) to one of the categories a flow checkpoint was trained on: exact name
after normalisation (lower case, spaces and hyphens as ``_``, a plural ``s`` dropped), then the
synonyms in :data:`SYNONYMS`, then the closest name by ``difflib`` similarity (ratio >= 0.8, so
``"chiar"`` is a chair but ``"spaceship"`` is nothing). What it does not: embed text (no language
model), or know categories beyond the checkpoint's.
"""

from __future__ import annotations

import difflib
import re
from typing import Sequence

from n4d4d.errors import InputError

#: Other words for the corpus's categories (procedural families and pybullet_data objects).
SYNONYMS: dict[str, tuple[str, ...]] = {
    "mug": ("cup", "coffee_cup", "tea_cup", "teacup", "beaker", "tankard", "stein"),
    "bottle": ("flask", "vase", "jar", "carafe", "wine_bottle", "water_bottle"),
    "chair": ("stool", "seat", "armchair", "dining_chair", "office_chair"),
    "table": ("desk", "bench", "coffee_table", "dining_table", "side_table"),
    "cabinet": ("cupboard", "wardrobe", "dresser", "drawer", "drawers", "sideboard", "locker", "closet"),
    "lidded_box": ("box", "chest", "case", "crate", "container", "casket", "trunk", "storage_box"),
    "lamp": ("light", "lantern", "desk_lamp", "floor_lamp", "torch_lamp"),
    "figure": ("person", "human", "humanoid", "doll", "mannequin", "character", "figurine"),
    "animal": ("creature", "dog", "cat", "horse", "beast", "pet", "critter"),
    "random_urdf": ("random", "primitive", "primitives", "random_object", "blob", "rock_pile"),
    "racecar": ("car", "race_car", "vehicle", "rc_car"),
    "bicycle": ("bike", "cycle"),
    "kuka_iiwa": ("robot_arm", "arm", "manipulator", "kuka"),
    "soccerball": ("ball", "football", "soccer_ball"),
    "laikago": ("robot_dog", "quadruped_robot"),
}


def normalise(text: str) -> str:
    """Lower case, runs of spaces / hyphens / dots as one ``_``, outer ``_`` stripped."""
    return re.sub(r"[\s\-.]+", "_", str(text).strip().lower()).strip("_")


def _singular(word: str) -> str:
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        return word[:-1]
    return word


def resolve_category(text: str, known: Sequence[str]) -> str:
    """The known category ``text`` names; see the module docstring for the rules.

    Raises:
        InputError: nothing matches; the message lists every known category.
    """
    known = list(known)
    words = {normalise(text)}
    words |= {_singular(w) for w in words}
    by_norm = {normalise(k): k for k in known}
    for w in words:
        if w in by_norm:
            return by_norm[w]
    for cat, syns in SYNONYMS.items():
        if cat in known and words & ({normalise(s) for s in syns} | {_singular(normalise(s)) for s in syns}):
            return cat
    for w in words:
        close = difflib.get_close_matches(w, list(by_norm), n=1, cutoff=0.8)
        if close:
            return by_norm[close[0]]
    raise InputError(f"unknown generator category {text!r}; known categories: {', '.join(sorted(known))}")
