"""The plans provisioning produces load through the hall's own importer."""
import sqlite3

from hall_server import importer
from contracts.site_bundle import bundle_to_plan, open_sitting, read_bundle
from provisioning.demo import build_demo_plan
from contracts.keys import keygen
from provisioning.provision import seal_plan


def test_demo_plan_imports(tmp_path, sites_csv):
    summary = importer.import_plan(tmp_path / "hall.db", build_demo_plan(sites_csv))
    assert summary["candidates"] == 60
    db = sqlite3.connect(tmp_path / "hall.db")
    assert db.execute("SELECT count(*) FROM papers").fetchone()[0] == 60
    assert db.execute("SELECT count(*) FROM media").fetchone()[0] >= 1


def test_bundle_plan_imports(tmp_path, sites_csv):
    priv, pub = keygen(tmp_path / "k")
    manifest, codes = seal_plan(build_demo_plan(sites_csv), priv, tmp_path / "demo.hallbundle",
                                kdf={"name": "scrypt", "n": 16, "r": 8, "p": 1})
    m, sealed = read_bundle(tmp_path / "demo.hallbundle", pub, "1")
    plan = bundle_to_plan(m, {"D1S1-R01": open_sitting(sealed["D1S1-R01"], codes["D1S1-R01"])})
    importer.import_plan(tmp_path / "hall.db", plan)
    db = sqlite3.connect(tmp_path / "hall.db")
    assert db.execute("SELECT count(*) FROM candidates").fetchone()[0] == 60
    assert db.execute("SELECT count(*) FROM papers").fetchone()[0] == 30     # R02 not released
