import pytest

from hall_server import cli as hall_cli
from contracts import fonts
from hall_server.printing import cli

ARGS = {
    "sign-in": ["--sitting", "D1S1-R01"],
    "room-record": ["--sitting", "D1S1-R01"],
    "poster": ["--sitting", "D1S1-R01", "--url", "http://10.0.0.1/r/abc", "--wifi-ssid", "HALL"],
    "answer-cards": ["--sitting", "D1S1-R01", "--tickets", "5001032023000001,5001032023000002"],
    "site-report": [],
}


@pytest.fixture(scope="module")
def db_path(site_db, tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "hall.db"
    site_db.conn.execute("VACUUM INTO ?", [str(path)])
    return path


@pytest.mark.parametrize("doc", cli.DOCS)
def test_cli_prints_every_doc(doc, db_path, tmp_path, capsys):
    out = tmp_path / f"{doc}.pdf"
    assert hall_cli.main(["print", doc, "--db", str(db_path), "--out", str(out), *ARGS[doc]]) == 0
    assert out.read_bytes().startswith(b"%PDF")


def test_hall_print_reads_the_configured_database(db_path, tmp_path, capsys):
    """`hall print` without --db prints from the data directory's hall.db, like every hall command."""
    out = tmp_path / "record.pdf"
    assert hall_cli.main(["print", "room-record", "--data-dir", str(db_path.parent), "--sitting", "D1S1-R01",
                          "--out", str(out)]) == 0
    assert out.read_bytes().startswith(b"%PDF")


def test_cli_errors(db_path, tmp_path, capsys):
    out = tmp_path / "x.pdf"
    assert hall_cli.main(["print", "room-record", "--db", str(db_path), "--out", str(out)]) == 2
    assert hall_cli.main(["print", "room-record", "--db", str(db_path), "--out", str(out),
                     "--sitting", "NOPE"]) == 2
    assert hall_cli.main(["print", "poster", "--db", str(db_path), "--out", str(out),
                     "--sitting", "D1S1-R01"]) == 2
    assert hall_cli.main(["print", "site-report", "--db", str(tmp_path / "none.db"), "--out", str(out)]) == 2
    assert not out.exists()
    assert "NOPE" in capsys.readouterr().err


def test_missing_font_names_the_debian_package(monkeypatch):
    monkeypatch.setattr(fonts, "KNOWN_PATHS", ("/nonexistent/wqy.ttc",))
    monkeypatch.setattr(fonts.shutil, "which", lambda name: None)
    with pytest.raises(fonts.FontMissing, match="fonts-wqy-microhei"):
        fonts.find_font_file()
