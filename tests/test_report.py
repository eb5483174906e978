"""The reproduction of the report: cells, caching, tables, refusal of mixed budgets."""

import csv
import json
import math
import os
from dataclasses import replace

import numpy as np
import pytest

from noise2noise import write_image
from noise2noise.cli import main
from noise2noise.report import (
    BUDGETS,
    Budget,
    Reproduction,
    quick_budget,
    reproduce,
    typed_command,
    verify,
)
from noise2noise.report.results_md import write_results_md
from noise2noise.report.spec import (
    REPORT_TABLE1,
    TABLE1_NOISES,
    TABLE1_ROWS,
    TRAINED,
    sensitivity_name,
)
from noise2noise.training import TRAIN_PRESETS
from noise2noise.zeroshot import PRESETS, ZeroShotConfig

pytest.importorskip("bm3d")


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """A 2-image test set (32×32) and a 4-image training set (40×40) of real photo crops."""
    from skimage.data import astronaut

    photo = astronaut()
    root = tmp_path_factory.mktemp("sets")
    (root / "test").mkdir()
    (root / "train").mkdir()
    for i, (top, left) in enumerate([(90, 210), (300, 300)]):
        write_image(root / "test" / f"t{i}.png", photo[top : top + 32, left : left + 32])
    for i in range(4):
        write_image(root / "train" / f"a{i}.png", photo[40 * i : 40 * i + 40, 100:140])
    return root


def tiny_budget(folders) -> Budget:
    fast = replace(PRESETS["fast"], steps=5, crop=16)
    tiny = {"epochs": 2, "crop": 16, "batch_size": 2}
    return Budget(
        train={arch: replace(TRAIN_PRESETS["cpu"][arch], **tiny) for arch in ("cnn", "unet")},
        zeroshot=fast,
        sensitivity=fast,
        test_set=str(folders / "test"),
        train_set=str(folders / "train"),
        sensitivity_images=1,
        crop=32,
    )


@pytest.fixture(scope="module")
def done(folders, tmp_path_factory):
    """A finished tiny reproduction of every experiment (about 20 s)."""
    out = tmp_path_factory.mktemp("repro")
    results = reproduce(["all"], out, budget=tiny_budget(folders), progress=False, command="t")
    return out, results


def read_rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_table1_has_every_row_under_every_noise(done):
    out, _ = done
    rows = read_rows(out / "table1" / "results.csv")
    cells = {(r["image"], r["noise"], r["method"]) for r in rows}
    assert len(cells) == len(rows)  # nothing computed twice
    for noise in TABLE1_NOISES:
        gaussian = noise.startswith("gaussian")
        for key, _ in TABLE1_ROWS:
            applies = not (key == "bm3d" and not gaussian) and not (key == "ansc" and gaussian)
            for image in ("t0", "t1"):
                assert ((image, noise, key) in cells) == applies, (image, noise, key)


def test_noise_levels_and_baselines_are_wired_to_their_noise(done):
    out, _ = done
    rows = read_rows(out / "table1" / "results.csv")
    value = {(r["image"], r["noise"], r["method"]): float(r["psnr"]) for r in rows}
    for image in ("t0", "t1"):
        # sigma 25 on 0-255: 20*log10(255/25) = 20.17 dB before clipping to [0, 1]
        assert 20.0 < value[(image, "gaussian:25", "noisy")] < 21.5
        assert 14.5 < value[(image, "gaussian:50", "noisy")] < 15.8
        assert value[(image, "gaussian:25", "bm3d")] > value[(image, "gaussian:25", "noisy")] + 3
        assert value[(image, "poisson:25", "ansc")] > value[(image, "poisson:25", "noisy")] + 3


def test_each_noise_has_its_own_four_trained_networks(done):
    out, _ = done
    for noise in TABLE1_NOISES:
        for arch, target in (
            ("cnn", "clean"),
            ("unet", "clean"),
            ("cnn", "noisy"),
            ("unet", "noisy"),
        ):
            run = out / "train" / f"{arch}-{target}-{noise.replace(':', '')}"
            config = json.loads((run / "config.json").read_text())
            assert (config["arch"], config["target"], config["noise"]) == (arch, target, noise)
            assert json.loads((run / "done.json").read_text())["epochs"] == 2


def test_results_md_tables_come_from_the_csv(done):
    out, results = done
    text = results.read_text()
    rows = read_rows(out / "table1" / "results.csv")
    psnrs = [
        float(r["psnr"])
        for r in rows
        if r["method"] == "unet_noisy" and r["noise"] == "gaussian:50"
    ]
    expected = f"{np.mean(psnrs):.2f} ± {2 * np.std(psnrs):.2f}"
    line = next(x for x in text.splitlines() if x.startswith("| N2N (UNet) | ") and "±" in x)
    assert line.split(" | ")[2] == expected  # column 2 is gaussian:50
    # the report's values side by side, and the difference for complete cells
    assert f"| N2N (UNet) | {REPORT_TABLE1['unet_noisy'][0]:.2f} | 24.20 |" in text
    delta = np.mean(psnrs) - 24.20
    assert f"{delta:+.2f}" in text
    for figure in (
        "convergence/convergence.png",
        "sensitivity/sensitivity.png",
        "figures/methods-gaussian25.png",
        "figures/zeroshot-pair.png",
    ):
        assert f"]({figure})" in text
        assert (out / figure).stat().st_size > 1000
    assert "    t" in text  # the command of the run
    record = json.loads(next((out / "runs").glob("*.json")).read_text())
    assert record["finished"] and record["command"] == "t"
    assert "Computation recorded in the cells: train " in text


def test_a_stopped_run_is_recorded_as_interrupted(tmp_path):
    from noise2noise.report.records import RunRecord

    record = RunRecord(tmp_path, device="cpu", command="stopped")
    record.close(interrupted=True)
    saved = json.loads(next((tmp_path / "runs").glob("*.json")).read_text())
    assert saved["finished"] is False and saved["interrupted"] is True


def test_sensitivity_has_every_depth_and_ratio(done):
    out, _ = done
    methods = {r["method"] for r in read_rows(out / "sensitivity" / "results.csv")}
    expected = {sensitivity_name(d, r) for d in (2, 3, 4) for r in (0.5, 1, 2, 10, math.inf)}
    assert methods == expected | {"noisy"}
    assert sensitivity_name(3, math.inf) == "L3_rinf"
    assert sensitivity_name(2, 0.5) == "L2_r0.5"


def test_convergence_csv_holds_both_targets_per_epoch(done):
    out, _ = done
    rows = read_rows(out / "convergence" / "convergence.csv")
    seen = {(r["noise"], r["target"], r["epoch"]) for r in rows}
    assert seen == {
        (n, t, e)
        for n in ("gaussian:25", "gaussian:50")
        for t in ("noisy", "clean")
        for e in ("1", "2")
    }


def test_rerun_skips_done_cells_and_recomputes_lost_ones(done, folders, monkeypatch):
    out, _ = done
    csv_file = out / "table1" / "results.csv"
    rows = read_rows(csv_file)

    import noise2noise.report.reproduction as reproduction
    import noise2noise.training as training

    def no_training(*args, **kwargs):
        raise AssertionError("a finished training was run again")

    monkeypatch.setattr(training, "run_training", no_training)
    monkeypatch.setattr(reproduction, "run_training", no_training)  # where it is called
    lost = [r for r in rows if r["method"] == "zeroshot" and r["noise"] == "poisson:20"]
    kept = [r for r in rows if r not in lost]
    with open(csv_file, "w", newline="") as f:  # as if interrupted before these cells
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(kept)
    reproduce(["table1"], out, budget=tiny_budget(folders), progress=False)
    again = read_rows(csv_file)
    assert len(again) == len(rows)
    redone = {(r["image"], r["psnr"]) for r in again[len(kept) :]}
    assert redone == {(r["image"], r["psnr"]) for r in lost}  # seeded: the same numbers


def test_another_budget_in_the_same_folder_is_refused(done, folders):
    out, _ = done
    other = replace(tiny_budget(folders), seed=1)
    with pytest.raises(ValueError, match="another budget.*seed"):
        Reproduction(out, other)


@pytest.mark.parametrize("name, text", [("RESULTS.md", "# my results"), ("config.json", "{}")])
def test_a_folder_of_other_files_of_those_names_is_refused_not_overwritten(
    folders, tmp_path, name, text
):
    """`n2n reproduce all --out ~/Documents` replaced a user's RESULTS.md (and a
    config.json of another tool was a traceback, or 'another budget')."""
    (tmp_path / name).write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=f"{name}: exists and is not an earlier reproduction"):
        Reproduction(tmp_path, tiny_budget(folders))
    assert [p.name for p in tmp_path.iterdir()] == [name]
    assert (tmp_path / name).read_text(encoding="utf-8") == text


def test_quick_budget_keeps_the_structure_and_shrinks_the_work():
    for name, full in BUDGETS.items():
        quick = quick_budget(full)
        for arch, config in full.train.items():  # the same networks, trained briefly
            short = {"epochs": 1, "crop": 32, "batch_size": 4}
            assert quick.train[arch] == replace(config, **short), (name, arch)
            assert quick.train[arch].epochs < config.epochs
        assert quick.test_images == 2 and quick.crop == 64
        assert quick.zeroshot.steps < full.zeroshot.steps
        assert quick.zeroshot.loss_ratio == full.zeroshot.loss_ratio
        assert (quick.zeroshot.crop is None) == (full.zeroshot.crop is None)
    assert BUDGETS["report"].zeroshot == PRESETS["report"]
    assert BUDGETS["report"].sensitivity == ZeroShotConfig()  # the paper's 2000 steps


def test_reproduce_command_errors(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["reproduce", "table9", "--out", str(tmp_path)])
    assert exc.value.code == 2
    code = main(
        [
            "reproduce",
            "table1",
            "--quick",
            "--out",
            str(tmp_path / "r"),
            "--data-root",
            str(tmp_path / "nowhere"),
        ]
    )
    assert code == 2
    assert "test50" in capsys.readouterr().err
    # A first run that failed on its data made the folder and wrote its budget: the same
    # command with the data and another budget was then refused ('another budget').
    assert not (tmp_path / "r").exists()
    assert main(["reproduce", "report", "--out", str(tmp_path / "r")]) == 2
    assert "no reproduction here yet to report on" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_a_training_kept_without_weights_is_trained_again_identically(done, folders):
    out, _ = done
    run = out / "train" / "unet-noisy-gaussian25"
    history = (run / "history.csv").read_text()
    for name in ("best.pt", "weights.pt", "state.pt"):  # as in a clone: weights not in git
        (run / name).unlink()
    repro = Reproduction(out, tiny_budget(folders), progress=False)
    assert repro.trained("unet", "noisy", "gaussian:25") == run
    assert (run / "best.pt").exists()
    again = (run / "history.csv").read_text()
    column = lambda text, i: [line.split(",")[i] for line in text.splitlines()]  # noqa: E731
    assert column(again, 3) == column(history, 3)  # val_psnr: the same network


def test_verify_recomputes_cached_cells_and_flags_a_changed_one(done, folders, tmp_path, caplog):
    out, _ = done
    rows = [
        r
        for r in read_rows(out / "table1" / "results.csv")
        if r["method"] in ("zeroshot", "bm3d") and r["image"] == "t0"
    ][:3]
    assert len(rows) == 3
    rows[1] = {**rows[1], "psnr": f"{float(rows[1]['psnr']) + 0.5:.4f}"}  # a wrong number
    copy = tmp_path / "copy"
    (copy / "table1").mkdir(parents=True)
    (copy / "config.json").write_text((out / "config.json").read_text())
    with open(copy / "table1" / "results.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    caplog.set_level("INFO", logger="noise2noise")
    checked = verify(Reproduction(copy, tiny_budget(folders), progress=False), sample=3)
    assert "verify: 3/3 table1 t0 " in caplog.text and "VerifiedCell" not in caplog.text
    by_method = {(c.noise, c.method): c for c in checked}
    assert len(by_method) == 3
    wrong = (rows[1]["noise"], rows[1]["method"])
    for key, c in by_method.items():
        assert c.ok == (key != wrong), c
    assert abs(by_method[wrong].difference + 0.5) < 0.01
    assert len(read_rows(copy / "verify.csv")) == 3
    report = write_results_md(copy, tests=2, sensitivity_tests=2).read_text()
    assert "2 of 3 randomly drawn cells recomputed within 0.1 dB" in report
    assert f"| {rows[1]['psnr']} |" in report  # the wrong number is shown, not hidden


def test_a_clone_without_weights_rebuilds_its_report_without_training(
    done, folders, tmp_path, monkeypatch
):
    import shutil

    import noise2noise.report.reproduction as reproduction
    import noise2noise.training as training

    out, results = done
    clone = tmp_path / "clone"
    shutil.copytree(out, clone, ignore=shutil.ignore_patterns("*.pt"))  # as git keeps it

    def no_training(*args, **kwargs):
        raise AssertionError("a cached cell caused a training")

    monkeypatch.setattr(training, "run_training", no_training)
    monkeypatch.setattr(reproduction, "run_training", no_training)  # where it is called
    again = reproduce(
        ["table1", "convergence", "sensitivity", "figures"],
        clone,
        budget=tiny_budget(folders),
        progress=False,
    )
    table = lambda text: text[text.index("## Table 1") : text.index("## Figure 1")]  # noqa: E731
    assert table(again.read_text()) == table(results.read_text())


def test_a_folder_from_before_a_new_setting_still_matches(folders, tmp_path):
    budget = tiny_budget(folders)
    Reproduction(tmp_path, budget)
    stored = json.loads((tmp_path / "config.json").read_text())
    del stored["budget"]["zeroshot"]["tile"]  # as if written by a version without it
    (tmp_path / "config.json").write_text(json.dumps(stored))
    Reproduction(tmp_path, budget)  # the missing field takes its default: same budget
    with pytest.raises(ValueError, match="another budget.*zeroshot"):
        Reproduction(tmp_path, replace(budget, zeroshot=replace(budget.zeroshot, tile=512)))


def test_open_takes_the_budget_a_folder_was_made_with(folders, tmp_path):
    budget = replace(tiny_budget(folders), seed=7)
    Reproduction(tmp_path / "made", budget)
    assert Reproduction.open(tmp_path / "made", progress=False).budget == budget
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "config.json").write_text('{"settings": 1}')
    for folder in ("other", "nothing"):
        with pytest.raises(ValueError, match=f"{folder}: not a reproduction folder"):
            Reproduction.open(tmp_path / folder)
    assert not (tmp_path / "nothing").exists()  # nothing made where nothing was


def test_train_all_leaves_a_network_to_the_process_training_it(folders, tmp_path):
    repro = Reproduction(tmp_path, tiny_budget(folders), progress=False)
    busy = repro.train_dir("cnn", "clean", "gaussian:25")
    busy.parent.mkdir(parents=True, exist_ok=True)
    lock = busy.with_name(busy.name + ".lock")
    lock.write_text(str(os.getppid()))  # a live process is training the first network
    order = []

    def trained(arch, target, noise):
        order.append((arch, target))
        return repro.train_dir(arch, target, noise)

    repro.trained = trained
    repro.train_all(["gaussian:25"])  # does not wait for it
    assert sorted(order) == sorted(c for c in TRAINED if c != ("cnn", "clean"))

    # If its holder stops before we are done, the network is ours again.
    order.clear()

    def trained_then_released(arch, target, noise):
        lock.unlink(missing_ok=True)
        return trained(arch, target, noise)

    lock.write_text(str(os.getppid()))
    repro.trained = trained_then_released
    repro.train_all(["gaussian:25"])
    assert order[0] != ("cnn", "clean")  # put off while held
    assert sorted(order) == sorted(TRAINED)


def _old_format(budget_dict: dict, preset: str, overrides: dict) -> dict:
    """A budget as written before version 0.3: the training preset by name."""
    old = {k: v for k, v in budget_dict.items() if k != "train"}
    return {"train": preset, "train_overrides": overrides, **old}


def test_a_folder_whose_budget_names_its_training_preset_is_migrated(folders, tmp_path):
    budget = tiny_budget(folders)
    old = _old_format(budget.to_dict(), "cpu", {"epochs": 2, "crop": 16, "batch_size": 2})
    (tmp_path / "config.json").write_text(json.dumps({"budget": old}))
    Reproduction(tmp_path, budget)  # the same budget: continues
    stored = json.loads((tmp_path / "config.json").read_text())["budget"]
    assert "train_overrides" not in stored and stored["train"]["cnn"]["epochs"] == 2
    assert Budget.from_dict(stored) == budget
    other = _old_format(budget.to_dict(), "cpu", {"epochs": 3, "crop": 16, "batch_size": 2})
    (tmp_path / "config.json").write_text(json.dumps({"budget": other}))
    with pytest.raises(ValueError, match="another budget.*train"):
        Reproduction(tmp_path, budget)


def test_the_committed_cpu_reproduction_migrates_to_what_its_networks_were_trained_with():
    from pathlib import Path

    from noise2noise.training import TrainConfig

    root = Path(__file__).parent.parent / "docs" / "results" / "cpu"
    old = _old_format(BUDGETS["cpu"].to_dict(), "cpu", {})
    assert Budget.from_dict(old) == BUDGETS["cpu"]
    runs = sorted((root / "train").glob("*/config.json"))
    assert len(runs) == 24
    for path in runs:
        arch, target, _ = path.parent.name.split("-")
        recorded = TrainConfig.from_dict(json.loads(path.read_text()))
        assert BUDGETS["cpu"].train_config(arch, target, recorded.noise) == recorded, path


def test_a_budget_must_configure_each_network_of_table1(folders):
    budget = tiny_budget(folders)
    with pytest.raises(ValueError, match="train must configure exactly"):
        replace(budget, train={"unet": budget.train["unet"]})
    with pytest.raises(ValueError, match="not a cnn configuration"):
        replace(budget, train={"cnn": budget.train["unet"], "unet": budget.train["unet"]})


def test_cells_of_a_shipped_model_are_computed_again_after_new_weights(folders, tmp_path):
    from noise2noise.weights import model_digest

    repro = Reproduction(tmp_path, tiny_budget(folders), progress=False)
    (tmp_path / "table1").mkdir()
    cells = tmp_path / "table1" / "results.csv"
    cells.write_text(
        "image,noise,method,psnr,ssim,seconds\n"
        "t0,gaussian:25,pretrained,30.0,0.9,1.0\n"
        "t0,gaussian:25,bm3d,29.0,0.8,9.0\n"
    )
    (tmp_path / "figures").mkdir()
    panels = tmp_path / "figures" / "figures.csv"
    panels.write_text("image,noise,method,psnr\nt0,gaussian:25,pretrained,30.0\n")
    methods = {"pretrained": None, "bm3d": None}
    assert repro.forget_stale(methods) == []  # no record yet: today's weights
    assert "pretrained" in cells.read_text()
    (tmp_path / "weights.json").write_text('{"pretrained": "' + "0" * 64 + '"}')  # others
    assert repro.forget_stale(methods) == ["pretrained"]
    assert [r["method"] for r in read_rows(cells)] == ["bm3d"]
    assert read_rows(panels) == []  # the figures' panel of the model too
    record = json.loads((tmp_path / "weights.json").read_text())
    assert record == {"pretrained": model_digest("blind")}
    assert repro.forget_stale(methods) == []


def test_a_new_way_of_running_a_shipped_model_makes_its_cells_stale(monkeypatch):
    from noise2noise.weights import PRETRAINED, model_digest

    before = model_digest("blind")
    monkeypatch.setitem(PRETRAINED, "blind", replace(PRETRAINED["blind"], shrink=False))
    assert model_digest("blind") != before  # same weights files, run another way


def _cells(path):
    return {(r["image"], r["noise"], r["method"]): r["psnr"] for r in read_rows(path)}


def test_pieces_selected_by_noise_and_row_make_the_cells_of_one_whole_run(done, folders, tmp_path):
    """As on two machines: the networks and ZS-N2N in pieces of one noise, BM3D, ANSC and
    the shipped model elsewhere; together the same cells, figures and curves as one run."""
    out, results = done
    pieces = tmp_path / "pieces"
    budget = tiny_budget(folders)
    gpu_rows = ["zeroshot", *(f"{a}_{t}" for a, t in TRAINED)]
    for noise in TABLE1_NOISES:
        reproduce(
            ["train", "table1", "figures"],
            pieces,
            budget=budget,
            progress=False,
            noises=[noise],
            methods=gpu_rows,
        )
        done_noise = {n for _, n, _ in _cells(pieces / "table1" / "results.csv")}
        assert done_noise <= set(TABLE1_NOISES[: TABLE1_NOISES.index(noise) + 1])
    rows = {m for *_, m in _cells(pieces / "table1" / "results.csv")}
    assert rows == {"noisy", *gpu_rows}  # the noisy input's row comes with every cell
    reproduce(
        ["table1", "figures", "convergence", "sensitivity"],
        pieces,
        budget=budget,
        progress=False,
        methods=["bm3d", "ansc", "pretrained"],
    )
    for experiment in ("table1", "sensitivity"):
        whole = _cells(out / experiment / "results.csv")
        assert _cells(pieces / experiment / "results.csv") == whole, experiment
    figure_psnr = lambda folder: {  # noqa: E731
        (r["noise"], r["method"]): round(float(r["psnr"]), 4)
        for r in read_rows(folder / "figures" / "figures.csv")
        if r["psnr"]
    }
    assert figure_psnr(pieces) == figure_psnr(out)
    assert len(figure_psnr(out)) == 2 * 8  # noisy, 4 networks, ZS-N2N, BM3D or ANSC, ours
    curves = lambda folder: [  # noqa: E731
        {k: v for k, v in r.items() if k != "seconds"}
        for r in read_rows(folder / "convergence" / "convergence.csv")
    ]
    assert curves(pieces) == curves(out)


def test_figures_made_by_two_processes_at_once_keep_the_rows_of_both(
    folders, tmp_path, monkeypatch
):
    """While this process computes a panel, another adds its row to figures.csv (as one
    drawing another network's panels does): the row survives this process's write."""
    from noise2noise.files import read_csv_rows, write_csv

    table = tmp_path / "figures" / "figures.csv"
    real_method = Reproduction.method

    def method(self, experiment, key, noise_name):
        denoise = real_method(self, experiment, key, noise_name)

        def after_the_other_process(noisy, noise):
            row = {"image": "t0", "noise": noise_name, "method": "ansc", "psnr": ""}
            write_csv(table, [*read_csv_rows(table), row])  # ANSC: not for Gaussian noise
            return denoise(noisy, noise)

        return after_the_other_process

    monkeypatch.setattr(Reproduction, "method", method)
    reproduce(
        ["figures"],
        tmp_path,
        budget=tiny_budget(folders),
        progress=False,
        noises=["gaussian:25"],
        methods=["pretrained"],
    )
    rows = [(r["noise"], r["method"]) for r in read_rows(table)]
    assert sorted(rows) == [
        ("gaussian:25", "ansc"),  # the other process's
        ("gaussian:25", "noisy"),
        ("gaussian:25", "pretrained"),
        ("poisson:25", "noisy"),
    ]
    assert list((tmp_path / "figures").glob("*.lock")) == []


def test_a_selection_computes_only_its_cells(folders, tmp_path, monkeypatch):
    import noise2noise.report.reproduction as reproduction

    def no_training(*args, **kwargs):
        raise AssertionError("BM3D's cells caused a training")

    monkeypatch.setattr(reproduction, "run_training", no_training)
    reproduce(
        ["train", "table1"],
        tmp_path,
        budget=tiny_budget(folders),
        progress=False,
        noises=["gaussian:50"],
        methods=["bm3d"],
    )
    cells = _cells(tmp_path / "table1" / "results.csv")
    assert {(n, m) for _, n, m in cells} == {("gaussian:50", "bm3d"), ("gaussian:50", "noisy")}
    assert len(cells) == 2 * 2  # both test images


def test_a_selection_of_what_the_report_lacks_is_a_one_line_error(tmp_path, capsys):
    for option, value, listed in (
        ("--noise", "gaussian:30", "gaussian:25"),
        ("--methods", "bm3d,dncnn", "unet_noisy"),
    ):
        code = main(["reproduce", "table1", "--quick", "--out", str(tmp_path), option, value])
        assert code == 2
        err = capsys.readouterr().err
        assert value.split(",")[-1] in err and listed in err
        assert len(err.strip().splitlines()) == 1


def test_a_run_refreshes_the_comparison_in_the_other_presets_folder(done, folders, tmp_path):
    import shutil

    out, _ = done
    for name in ("cpu", "report"):
        shutil.copytree(out, tmp_path / name, ignore=shutil.ignore_patterns("*.pt"))
    before = (tmp_path / "cpu" / "RESULTS.md").read_text()
    assert "This preset against" not in before  # written when the folder stood alone
    csv_file = tmp_path / "report" / "table1" / "results.csv"
    rows = read_rows(csv_file)
    for r in rows:  # both images 1 dB better under one noise in `report`
        if (r["noise"], r["method"]) == ("gaussian:50", "zeroshot"):
            r["psnr"] = f"{float(r['psnr']) + 1.0:.6f}"
    with open(csv_file, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    reproduce(["report"], tmp_path / "report", budget=tiny_budget(folders), progress=False)
    text = (tmp_path / "cpu" / "RESULTS.md").read_text()
    section = text[text.index("## This preset against the `report` preset") :]
    zeroshot = next(line for line in section.splitlines() if line.startswith("| Zero-shot"))
    assert zeroshot.split(" | ")[1:3] == ["+0.00 (2)", "-1.00 (2)"]


def test_results_md_compares_a_preset_with_the_other_beside_it(done, tmp_path):
    import shutil

    out, _ = done
    for name in ("cpu", "report"):
        shutil.copytree(out, tmp_path / name, ignore=shutil.ignore_patterns("*.pt"))
    csv_file = tmp_path / "report" / "table1" / "results.csv"
    rows = read_rows(csv_file)
    for r in rows:  # one of the two images 1 dB better under one noise
        if (r["image"], r["noise"], r["method"]) == ("t0", "gaussian:50", "zeroshot"):
            r["psnr"] = f"{float(r['psnr']) + 1.0:.6f}"
    with open(csv_file, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    text = write_results_md(tmp_path / "report", tests=2, sensitivity_tests=1).read_text()
    section = text[text.index("## This preset against the `cpu` preset") :]
    zeroshot = next(line for line in section.splitlines() if line.startswith("| Zero-shot"))
    assert zeroshot.split(" | ")[1:3] == ["+0.00 (2)", "+0.50 (2)"]
    assert "| BM3D | +0.00 (2) | +0.00 (2) | +0.00 (2) | – | – | – |" in section
    assert "`sensitivity`:" in section
    alone = write_results_md(out, tests=2, sensitivity_tests=1).read_text()
    assert "This preset against" not in alone  # no preset folder beside it


@pytest.mark.parametrize(
    "program",
    [
        "/usr/bin/n2n",
        "/x/site-packages/noise2noise/cli/__main__.py",
        "C:\\py\\noise2noise\\__main__.py",
    ],
)
def test_commands_are_recorded_as_typed(program):
    """`python -m noise2noise.cli` (the GPU machine's way) is recorded as `n2n ...`."""
    argv = [program, "reproduce", "table1", "--out", "r"]
    assert typed_command(argv) == "n2n reproduce table1 --out r"


def test_other_programs_are_not_taken_for_n2n():
    assert typed_command(["/usr/bin/pytest", "-q"]) is None
    assert typed_command(["/x/not_n2n.py"]) is None


def test_results_md_sums_the_runs_time_by_device(done, tmp_path):
    """Pieces run on several machines: RESULTS.md says how much ran on each device (the
    report preset's GPU time is what issue 17's 40-minute target counts)."""
    import shutil

    out, _ = done
    folder = tmp_path / "r"
    shutil.copytree(out, folder, ignore=shutil.ignore_patterns("*.pt"))
    for p in (folder / "runs").glob("*.json"):
        p.unlink()
    for name, device, seconds in [("a", "cuda", 120.0), ("b", "cuda", 65.0), ("c", "cpu", 30.0)]:
        record = {"device": device, "threads": 1, "command": f"n2n reproduce {name}"}
        (folder / "runs" / f"{name}.json").write_text(json.dumps({**record, "seconds": seconds}))
    text = write_results_md(folder, tests=2, sensitivity_tests=1).read_text()
    assert "By device: cpu: 1 process, 0 min 30 s; cuda: 2 processes, 3 min 05 s." in text
