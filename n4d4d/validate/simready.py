"""USD validators that others maintain, run on a file: OpenUSD's ``pxr.UsdValidation`` and
NVIDIA's SimReady validator (``simready-validate`` with ``simready-foundation-tier-core``).

- :func:`usd_validation_issues`: every validator registered with OpenUSD's
  ``UsdValidation.ValidationRegistry`` (core, UsdGeom, UsdShade, UsdSkel, UsdPhysics, UsdUtils
  plugins), run by one ``ValidationContext`` on the stage; errors and warnings.
- :func:`simready_issues`: the SimReady profile ``Robotics-Prop`` (NVIDIA SimReady Foundation,
  pure usd-core), keeping only the physics-relevant features :data:`PHYSICS_FEATURES`:
  minimal geometry (FET_001: among them VG.027, normals on polygonal meshes), rigid-body physics
  (FET_003, in the neutral, PhysX, Newton and MuJoCo variants) and, for assets with two or more
  bodies, multi-body physics (FET_004, the same four). Packaging, metadata, thumbnails,
  semantic labels, runtime variant sets, grasp vectors and render materials are not physics
  and are left out; :func:`simready_issues` with ``features=None`` keeps every feature.

Both return plain records (:class:`ValidatorIssue`); neither needs a GPU. When a package is
absent the functions raise :class:`ValidatorUnavailable` naming the pip package, so callers can
skip with that reason. This module writes nothing (the SimReady validator is run without
stamping metadata).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

#: SimReady profile whose features are checked (SimReady Foundation, tier core).
PROFILE = "Robotics-Prop"

#: Physics-relevant SimReady features of :data:`PROFILE`: geometry minimum, rigid bodies,
#: and multi-body (articulations; checked only when the stage has two or more rigid bodies).
PHYSICS_FEATURES = ("FET_001_STANDARD", "FET_003_STANDARD", "FET_003_PHYSX", "FET_003_NEWTON",
                    "FET_003_MUJOCO")
MULTIBODY_FEATURES = ("FET_004_STANDARD", "FET_004_PHYSX", "FET_004_NEWTON", "FET_004_MUJOCO")


class ValidatorUnavailable(RuntimeError):
    """A third-party validator is not installed; the message names what to install."""


@dataclass(frozen=True)
class ValidatorIssue:
    """One finding of a third-party validator.

    Attributes:
        validator: ``"usd"`` (pxr.UsdValidation) or ``"simready"``.
        rule: the rule's code, e.g. ``"com.nvidia.usd.VG.027"`` or
            ``"usdPhysicsValidators:ArticulationChecker"``.
        severity: ``"error"`` (a failure) or ``"warning"``.
        message: the validator's message.
        at: the prim path or layer it concerns ("" when none).
    """

    validator: str
    rule: str
    severity: str
    message: str
    at: str = ""


def usd_validation_issues(path: str | Path) -> list[ValidatorIssue]:
    """All of OpenUSD's registered validators on the stage at ``path``.

    Returns one :class:`ValidatorIssue` per error or warning (``UsdValidation.ValidationErrorType``
    Error / Warn); info messages are dropped. Raises :class:`ValidatorUnavailable` when this
    OpenUSD build has no ``UsdValidation`` (usd-core < 24.11), OSError-like pxr errors when the
    file cannot be opened.
    """
    from pxr import Usd

    try:
        from pxr import UsdValidation
    except ImportError as e:  # pragma: no cover - old usd-core
        raise ValidatorUnavailable("pxr.UsdValidation needs usd-core >= 24.11") from e
    stage = Usd.Stage.Open(str(path))
    validators = UsdValidation.ValidationRegistry().GetOrLoadAllValidators()
    errors = UsdValidation.ValidationContext(validators).Validate(stage)
    out = []
    for e in errors:
        kind = e.GetType()
        if kind == UsdValidation.ValidationErrorType.Error:
            severity = "error"
        elif kind == UsdValidation.ValidationErrorType.Warn:
            severity = "warning"
        else:
            continue
        sites = [str(s.GetPrim().GetPath()) if s.IsPrim() else str(s.GetLayer().identifier if s.GetLayer() else "")
                 for s in e.GetSites()]
        out.append(ValidatorIssue("usd", e.GetName() or e.GetIdentifier(), severity, e.GetMessage(),
                                  sites[0] if sites else ""))
    return out


_INITIALISED = False


def _simready_api():
    global _INITIALISED
    try:
        from simready.validate import api
    except ImportError as e:
        raise ValidatorUnavailable("the SimReady validator is not installed: pip install simready-validate "
                                   "simready-foundation-tier-core") from e
    if not _INITIALISED:
        for name in ("simready", "usd_validation_nvidia", "root"):
            logging.getLogger(name).setLevel(logging.ERROR)
        api.initialize([], [], [])  # the installed tiers
        _INITIALISED = True
    return api


def simready_features(stage_path: str | Path) -> tuple[str, ...]:
    """The SimReady features :func:`simready_issues` checks for this stage: the physics ones,
    plus the multi-body ones when the default prim holds two or more rigid bodies."""
    from pxr import Usd, UsdPhysics

    stage = Usd.Stage.Open(str(stage_path))
    root = stage.GetDefaultPrim() or stage.GetPseudoRoot()
    bodies = sum(1 for p in Usd.PrimRange(root) if p.HasAPI(UsdPhysics.RigidBodyAPI))
    return PHYSICS_FEATURES + (MULTIBODY_FEATURES if bodies >= 2 else ())


def simready_issues(path: str | Path, features: tuple[str, ...] | None | str = "physics") -> list[ValidatorIssue]:
    """The SimReady validator's failures on the USD file ``path`` (profile :data:`PROFILE`).

    Args:
        path: a ``.usd``, ``.usda``, ``.usdc`` or ``.usdz`` file.
        features: ``"physics"`` (default): the features of :func:`simready_features`; a tuple
            of feature ids; or None for every feature of the profile.

    Returns:
        One :class:`ValidatorIssue` per failure (severity ERROR or FAILURE of the validator,
        blocking or not) of a requirement that one of ``features`` lists.

    Raises:
        ValidatorUnavailable: simready-validate or its foundation tier is not installed.
    """
    api = _simready_api()
    from usd_validation_nvidia import ProfileRegistry

    if features == "physics":
        features = simready_features(path)
    profile = ProfileRegistry().find_profile(PROFILE, None)
    if profile is None:
        raise ValidatorUnavailable(f"SimReady profile {PROFILE} is not registered: pip install "
                                   "simready-foundation-tier-core")
    codes = None
    if features is not None:
        codes = {r.code for c in profile.capabilities if c.id in features for r in c.requirements}
    result = api.validate_asset(api.AssetValidationConfig(str(path), profile_id=PROFILE))
    out = []
    for issue in list(result.issues) + list(result.soft_issues):
        code = getattr(issue.requirement, "code", "") if issue.requirement is not None else ""
        if codes is not None and code not in codes:
            continue
        at = getattr(issue, "at", None)
        where = ""
        if at is not None:
            where = str(getattr(at, "path", None) or getattr(at, "GetPath", lambda: "")() or "")
        out.append(ValidatorIssue("simready", code, "error", str(issue.message).strip(), where))
    return out
