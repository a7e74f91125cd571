"""Reading the spreadsheets exam offices send: .xlsx (openpyxl) or .csv (UTF-8 or GBK)."""
from __future__ import annotations

import csv
import datetime as _dt
import io
from pathlib import Path


def cell_text(v: object) -> str:
    """A cell as the text a person typed: 12.0 -> "12", dates -> ISO, None -> ""."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, float):
        if v.is_integer():
            return str(int(v))
        return repr(v)
    if isinstance(v, _dt.datetime):
        return v.date().isoformat() if v.time() == _dt.time() else v.isoformat()
    if isinstance(v, _dt.date):
        return v.isoformat()
    return str(v).strip()


def _find_header(rows: list[list[str]], hint: str | None) -> int:
    """Index of the header row: offices often put a title line (“2023年……名单”) above it."""
    if hint:
        for i, r in enumerate(rows[:10]):
            if any(v.replace(" ", "") == hint for v in r):
                return i
    for i, r in enumerate(rows[:10]):
        if any(r):
            return i
    return 0


def read_table(path: str | Path, header_hint: str | None = None
               ) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """(headers, [(spreadsheet row number, {header: text})]); blank rows are skipped.
    The header row is the first of the first 10 rows that has a cell equal to ``header_hint``."""
    path = Path(path)
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        from openpyxl import load_workbook
        wb = load_workbook(path, read_only=True, data_only=True)
        try:
            ws = wb.worksheets[0]
            all_rows = [[cell_text(v) for v in row] for row in ws.iter_rows(values_only=True)]
        finally:
            wb.close()
        return _split(path, all_rows, header_hint)
    if path.suffix.lower() in (".csv", ".txt"):
        raw = path.read_bytes()
        for enc in ("utf-8-sig", "gb18030"):
            try:
                text = raw.decode(enc)
                break
            except UnicodeDecodeError:
                continue
        else:
            raise ValueError(f"{path.name}: 无法识别的文件编码（应为 UTF-8 或 GBK）")
        all_rows = [[v.strip() for v in row] for row in csv.reader(io.StringIO(text))]
        return _split(path, all_rows, header_hint)
    raise ValueError(f"{path.name}: 不支持的文件类型（应为 .xlsx 或 .csv）")


def _split(path: Path, all_rows: list[list[str]], hint: str | None):
    if not any(any(r) for r in all_rows):
        raise ValueError(f"{path.name}: 文件为空")
    h = _find_header(all_rows, hint)
    headers = [v.strip() for v in all_rows[h]]
    out = []
    for n, vals in enumerate(all_rows[h + 1:], start=h + 2):
        if not any(vals):
            continue
        out.append((n, {name: (vals[i] if i < len(vals) else "") for i, name in enumerate(headers) if name}))
    return [x for x in headers if x], out


def resolve_columns(headers: list[str], wanted: dict[str, tuple[str, ...]],
                    required: tuple[str, ...]) -> tuple[dict[str, str], list[str]]:
    """Map field -> actual header using aliases; returns (mapping, missing required fields)."""
    norm = {h.replace(" ", "").replace("　", ""): h for h in headers}
    mapping, missing = {}, []
    for field, aliases in wanted.items():
        for a in aliases:
            if a in norm:
                mapping[field] = norm[a]
                break
        else:
            if field in required:
                missing.append(aliases[0])
    return mapping, missing


def write_table(path: str | Path, headers: list[str], rows: list[list]) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".xlsx":
        from openpyxl import Workbook
        wb = Workbook(write_only=True)
        ws = wb.create_sheet()
        ws.append(headers)
        for r in rows:
            ws.append([str(v) if v != "" else None for v in r])
        wb.save(path)
    else:
        import csv
        with open(path, "w", newline="", encoding="utf-8-sig") as f:
            w = csv.writer(f)
            w.writerow(headers)
            w.writerows(rows)
