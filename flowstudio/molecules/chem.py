"""RDKit chemistry shared by the molecule readers, the GraphAF model and the metrics.

Every SMILES that enters FlowStudio goes through :func:`parse_smiles`: it parses without
sanitization first, so that a failure can be told apart as a syntax error (the SMILES
cannot be read) or a chemistry error (valence, aromaticity), and the reason reaches the
user in one line instead of RDKit's multi-line log on stderr.
"""

from __future__ import annotations

import importlib.util
import re
import threading
from functools import cache
from types import ModuleType

from rdkit import Chem, rdBase
from rdkit.Chem import QED, Crippen, Descriptors, RDConfig

from flowstudio.errors import BadInputError

#: Property names in the order the CSV/SDF writers and the GUI show them.
PROPERTY_NAMES: tuple[str, ...] = ("QED", "logP", "SA", "MW", "heavy_atoms")

_LOG_PREFIX = re.compile(r"^\[\d\d:\d\d:\d\d\]\s*")


def _shorten(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _syntax_reason(messages: str) -> str:
    """The useful part of RDKit's SMILES parser log: the error and its position."""
    parts = []
    for raw in messages.splitlines():
        line = _LOG_PREFIX.sub("", raw).strip()
        if not line.startswith("SMILES Parse Error:"):
            continue
        line = line.removeprefix("SMILES Parse Error:").strip()
        if line.startswith("Failed parsing SMILES"):
            continue
        line = re.sub(r"\s*for input: '.*'$", "", line)
        line = re.sub(r"^(.*?) while parsing: .*$", r"\1", line)
        line = re.sub(r"^check for mistakes around position (\d+):?$", r"near position \1", line)
        parts.append(line.rstrip(":"))
    return "SMILES " + (" ".join(parts) if parts else "syntax error")


def parse_smiles(text: str, *, sanitize: bool = True) -> Chem.Mol:
    """Parse and sanitize one SMILES string.

    Raises:
        BadInputError: with the reason: an empty string, a syntax error (with its
            position), or a chemistry error found by sanitization (e.g. "explicit valence
            for atom # 0 C, 5, is greater than permitted", "can't kekulize mol").
    """
    if text is None or not str(text).strip():
        raise BadInputError("empty SMILES")
    text = str(text).strip()
    with rdBase.CaptureErrorLog() as log:
        mol = Chem.MolFromSmiles(text, sanitize=False)
    if mol is None:
        raise BadInputError(f"{_syntax_reason(log.messages)} in '{_shorten(text)}'")
    if mol.GetNumAtoms() == 0:
        raise BadInputError(f"no atoms in '{_shorten(text)}'")
    if sanitize:
        _sanitize(mol, text)
    return mol


def _sanitize(mol: Chem.Mol, label: str) -> None:
    try:
        with rdBase.CaptureErrorLog():
            Chem.SanitizeMol(mol)
    except Exception as exc:  # RDKit raises several MolSanitizeException subclasses
        reason = " ".join(str(exc).split()).rstrip(".")
        reason = reason[:1].lower() + reason[1:]
        raise BadInputError(f"invalid chemistry in '{_shorten(label)}': {reason}") from None


def sanitize_mol(mol: Chem.Mol) -> Chem.Mol:
    """Sanitize a molecule in place (e.g. one read from SDF without sanitization);
    raise :class:`BadInputError` with the reason when it fails. Returns ``mol``."""
    _sanitize(mol, mol.GetProp("_Name") if mol.HasProp("_Name") and mol.GetProp("_Name") else "record")
    return mol


def canonical_smiles(mol_or_smiles: Chem.Mol | str) -> str:
    """RDKit's canonical isomeric SMILES (the form MOSES compares for uniqueness and
    novelty). A string is parsed first; an invalid one raises :class:`BadInputError`."""
    mol = parse_smiles(mol_or_smiles) if isinstance(mol_or_smiles, str) else mol_or_smiles
    return Chem.MolToSmiles(mol)


def try_canonical_smiles(text: str | None) -> str | None:
    """Canonical SMILES of ``text``, or ``None`` when it is missing or invalid (no log noise)."""
    if text is None or not str(text).strip():
        return None
    with rdBase.BlockLogs():
        mol = Chem.MolFromSmiles(str(text).strip())
    if mol is None or mol.GetNumAtoms() == 0:
        return None
    return Chem.MolToSmiles(mol)


# --- properties -------------------------------------------------------------------------

_sascorer_lock = threading.Lock()


@cache
def _sascorer() -> ModuleType:
    """RDKit's Contrib SA_Score (Ertl & Schuffenhauer 2009), loaded from the rdkit wheel as
    a library module without touching ``sys.path``."""
    path = f"{RDConfig.RDContribDir}/SA_Score/sascorer.py"
    spec = importlib.util.spec_from_file_location("flowstudio_rdkit_sascorer", path)
    if spec is None or spec.loader is None:  # pragma: no cover - a broken RDKit install
        raise ImportError(f"RDKit's SA_Score is missing ({path})")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def sa_score(mol: Chem.Mol) -> float:
    """Synthetic accessibility, 1 (easy) to 10 (hard)."""
    scorer = _sascorer()
    if scorer._fscores is None:  # load the fragment table once, even from several threads
        with _sascorer_lock:
            if scorer._fscores is None:
                scorer.readFragmentScores()
    return float(scorer.calculateScore(mol))


def properties(mol: Chem.Mol) -> dict[str, float]:
    """QED, Crippen logP, SA score, molecular weight (g/mol) and heavy-atom count, keyed by
    :data:`PROPERTY_NAMES`."""
    return {
        "QED": float(QED.qed(mol)),
        "logP": float(Crippen.MolLogP(mol)),
        "SA": sa_score(mol),
        "MW": float(Descriptors.MolWt(mol)),
        "heavy_atoms": int(mol.GetNumHeavyAtoms()),
    }
