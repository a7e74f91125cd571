import json

from contracts.site_bundle import bundle_to_plan, open_sitting, read_bundle
from provisioning.cli import main


def test_cli_end_to_end(tmp_path, sites_csv, capsys):
    s = str(sites_csv)
    assert main(["keygen", "--out", str(tmp_path / "k")]) == 0
    assert main(["keygen", "--out", str(tmp_path / "k")]) == 1          # no silent overwrite
    assert main(["synth-roster", "--sites", s, "--site", "1", "--site", "2", "--total", "40",
                 "--out", str(tmp_path / "roster.xlsx")]) == 0
    assert main(["synth-bank", "--per-category", "40", "--out", str(tmp_path / "bank.csv")]) == 0
    assert main(["check", "--sites", s, "--roster", str(tmp_path / "roster.xlsx"),
                 "--bank", str(tmp_path / "bank.csv"), "--questions", "10"]) == 0
    assert main(["build", "--sites", s, "--roster", str(tmp_path / "roster.xlsx"),
                 "--bank", str(tmp_path / "bank.csv"), "--questions", "10", "--quiet",
                 "--key", str(tmp_path / "k" / "central_ed25519.key"), "--out", str(tmp_path / "out"),
                 "--capacity", "15"]) == 0
    keys = json.loads((tmp_path / "out" / "site_keys.json").read_text(encoding="utf-8"))
    assert set(keys) == {"1", "2"}
    bundle = tmp_path / "out" / "市直属" / "site_001.hallbundle"
    pub = tmp_path / "k" / "central_ed25519.pub"
    acc = (tmp_path / "out" / "市直属" / "site_001_账号.txt").read_text(encoding="utf-8")
    activation = acc.split("激活码", 1)[1].split("：", 1)[1].split()[0]
    manifest, sealed = read_bundle(bundle, pub, "1", activation)
    assert manifest["site_public_key"] == keys["1"]["public"]
    import csv
    rows = list(csv.DictReader(open(tmp_path / "out" / "centre" / "release_codes.csv", encoding="utf-8-sig")))
    codes = {r["场次"]: r["放行码"] for r in rows if r["考点编号"] == "1" and r["场次"] != "激活码"}
    assert set(codes) == set(sealed)
    plan = bundle_to_plan(manifest, {sid: open_sitting(e, codes[sid]) for sid, e in sealed.items()})
    assert all(len(p["questions"]) == 10 for p in plan["papers"].values())
    sid = sorted(codes)[0]
    capsys.readouterr()
    assert main(["verify", str(bundle), "--pub", str(pub), "--site", "1", "--code", f"{sid}={codes[sid]}",
                 "--activation", activation]) == 0
    assert main(["verify", str(bundle), "--pub", str(pub), "--site", "2"]) == 2
    assert "不是本考点" in capsys.readouterr().err


def test_cli_check_reports_bad_roster(tmp_path, sites_csv, capsys):
    p = tmp_path / "r.csv"
    p.write_text("准考证号,姓名,性别,身份证号,执业类别,医师级别,工作单位,科室,考点\n"
                 "1,张三,男,500103198001011235,临床,执业医师,某医院,内科,1\n", encoding="utf-8")
    assert main(["check", "--sites", str(sites_csv), "--roster", str(p)]) == 1
    assert "第2行 身份证号" in capsys.readouterr().err


def test_cli_demo_bundle(tmp_path, sites_csv, capsys):
    assert main(["demo", "--sites", str(sites_csv), "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    codes = dict(line.split("  放行码 ") for line in (l.strip() for l in out.splitlines()) if "放行码 " in line)
    activation = [l.split()[-1] for l in out.splitlines() if "激活码" in l][0]
    manifest, sealed = read_bundle(tmp_path / "demo_site_1.hallbundle",
                                   tmp_path / "keys" / "central_ed25519.pub", "1", activation)
    assert manifest["demo"] is True and set(codes) == set(sealed) == {"D1S1-R01", "D1S1-R02"}
    plan = bundle_to_plan(manifest, {s: open_sitting(sealed[s], codes[s]) for s in sealed})
    from provisioning.demo import build_demo_plan
    demo = build_demo_plan(sites_csv)
    assert plan["papers"] == demo["papers"] and plan["keys"] == demo["keys"]
    assert plan["media"] == demo["media"] and plan["candidates"] == demo["candidates"]
