"""Files written the way old tools write them: byte for byte what a person gets from a French R session on
Windows (Latin-1), a DOS program (code page 850), Excel on a Mac (Mac Roman) or Windows (Windows-1252).

:func:`french_r_export` reproduces the layout of issue 21's file: an R ``write.csv`` on Windows, Latin-1,
``\\r\\n`` line ends, quoted text, ``NA`` for missing values, no timestamp but a period number ``t``, extra
numeric columns (visits, basket in euros), and a share of lines appended by a DOS tool in code page 850.
"""

from __future__ import annotations

from pathlib import Path

COMMENTS = [
    "Très bien, le personnel était aimable",
    "Accueil désagréable, attente trop longue à la caisse",
    "Rien à signaler",
    "Déçu par le choix de légumes, prix élevés",
    "Parfait ! Je reviendrai",
    "Propreté du magasin à revoir, rayons vides",
    "Caissière très sympathique, ça fait plaisir",
    "",
]


def french_rows(n: int) -> list[dict[str, str]]:
    """``n`` responses with their true values (the assertions compare against these)."""
    rows = []
    for i in range(1, n + 1):
        rows.append(
            {
                "response_id": f"fr{i:05d}",
                "t": str(1 + i % 12),
                "unit_id": ["b01", "b02", "b03"][i % 3],
                "nps": "NA" if i % 17 == 0 else str((i * 7) % 11),
                "comment": COMMENTS[i % len(COMMENTS)],
                "visits": str(i % 9),
                "basket_eur": f"{10 + (i * 37) % 90}.{i % 100:02d}",
            }
        )
    return rows


def french_r_export(path: Path, n: int = 200, dos_every: int = 7) -> list[dict[str, str]]:
    """Write the file; every ``dos_every``-th data line is code page 850 (the rest Latin-1). Returns the
    rows as they should read."""
    rows = french_rows(n)
    header = list(rows[0])
    lines = [",".join(f'"{h}"' for h in header).encode("latin-1") + b"\r\n"]
    for i, row in enumerate(rows, start=1):
        cells = [f'"{v}"' if k in {"response_id", "unit_id", "comment"} else v for k, v in row.items()]
        text = ",".join(cells)
        lines.append(text.encode("cp850" if i % dos_every == 0 else "latin-1") + b"\r\n")
    path.write_bytes(b"".join(lines))
    return rows
