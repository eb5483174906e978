import io
import sys

import pytest

from noise2noise.progress import LineProgress, format_duration, progress_bar


def _lines(**kwargs):
    out = []
    return out, LineProgress(write=out.append, **kwargs)


def test_a_line_per_update_with_elapsed_time_eta_and_status():
    out, bar = _lines(total=3, unit="epoch", desc="train", every=0.0)
    for i in range(3):
        bar.set_postfix(loss=f"{i}")
        bar.update()
    bar.close()  # everything already said: no repeat
    assert len(out) == 3
    assert out[0].startswith("train: 1/3 epochs, 0 min 00 s, about ")
    assert out[0].endswith(" left (loss=0)")
    assert out[2] == "train: 3/3 epochs, 0 min 00 s (loss=2)"  # no time left at the end


def test_lines_are_spaced_but_the_last_item_is_always_reported():
    out, bar = _lines(total=50, unit="cell", every=3600.0)
    for _ in range(50):
        bar.update()
    assert out == ["50/50 cells, 0 min 00 s"]


def test_close_reports_where_an_unfinished_run_stopped():
    out, bar = _lines(total=10, every=3600.0, initial=2)  # a resumed run
    bar.update(3)
    bar.close()
    assert out == ["5/10 it, 0 min 00 s, about 0 min 00 s left"]


def test_iterating_updates_after_each_item():
    out, bar = _lines(iterable=range(5, 8), total=3, every=0.0)
    seen = []
    for item in bar:
        seen.append((item, len(out)))  # the line for an item comes after its work
    assert seen == [(5, 0), (6, 1), (7, 2)]


def test_off_a_terminal_lines_else_tqdm(monkeypatch):
    monkeypatch.setattr(sys, "stderr", io.StringIO())  # not a terminal
    assert isinstance(progress_bar(total=2), LineProgress)
    for quiet in (dict(show=False), dict(lines=False)):
        bar = progress_bar(total=2, **quiet)  # hidden: no line, even on its last update
        bar.update(2)
        bar.close()
    assert sys.stderr.getvalue() == ""
    bar = progress_bar(range(4))
    assert bar.total == 4
    list(bar)
    assert sys.stderr.getvalue().startswith("4/4 it, ")


@pytest.mark.parametrize(
    "seconds, text", [(0.4, "0 min 00 s"), (187, "3 min 07 s"), (3900, "1 h 05 min")]
)
def test_durations(seconds, text):
    assert format_duration(seconds) == text


def test_a_zeroshot_run_in_a_log_file_says_how_far_it_got(tmp_path, capsys):
    import numpy as np

    from noise2noise import write_image
    from noise2noise.cli import main

    rng = np.random.default_rng(0)
    src = write_image(tmp_path / "in.png", (rng.random((32, 32)) * 255).astype(np.uint8))
    argv = ["denoise", str(src), "-o", str(tmp_path / "out.png"), "--method", "zeroshot"]
    assert main([*argv, "--iterations", "3"]) == 0
    said = [line for line in capsys.readouterr().err.splitlines() if "step" in line]
    assert said[-1].startswith("ZS-N2N: 3/3 steps, ")


def test_a_stack_in_a_log_file_says_its_planes_not_a_line_per_plane_of_steps(tmp_path, capsys):
    # Each plane's ZS-N2N bar wrote its end line: a 1000-plane stack, 1000 such lines.
    import numpy as np
    import tifffile

    from noise2noise.cli import main

    rng = np.random.default_rng(0)
    src = tmp_path / "stack.tif"
    tifffile.imwrite(
        src, (rng.random((3, 32, 32)) * 255).astype(np.uint8), photometric="minisblack"
    )
    argv = ["denoise", str(src), "-o", str(tmp_path / "out.tif"), "--method", "zeroshot"]
    assert main([*argv, "--iterations", "3"]) == 0
    err = capsys.readouterr().err
    assert "stack.tif: 3/3 planes, " in err
    assert "steps" not in err


def test_a_notebook_keeps_tqdms_widget(monkeypatch):
    import tqdm.autonotebook

    monkeypatch.setattr(sys, "stderr", io.StringIO())  # a kernel's stderr is no terminal
    monkeypatch.setattr(tqdm.autonotebook, "tqdm", type("NotebookBar", (), {}))
    bar = progress_bar(total=2)
    assert not isinstance(bar, LineProgress) and not bar.disable
    bar.close()
