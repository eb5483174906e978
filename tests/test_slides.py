"""Slide scanners' files: a TIFF whose slide has a thumbnail, a label and a macro picture
beside it (Aperio's layout) is denoised, its levels made again from the result, its
label and macro left out (said); TIFFs by other names (.svs, .btf...) are read as TIFF
and written as .tif."""

import numpy as np
import pytest
import tifffile

from noise2noise.cli import main

APERIO = "Aperio Image Library v12.0.15 \r\n"
MPP = "|AppMag = 20|MPP = 0.4990"


@pytest.fixture
def slide(tmp_path, astronaut_crop):
    """An SVS as Aperio's scanners write it: the slide (tiled), a thumbnail (page 2, not
    marked reduced), a level, then a label and a macro picture (marked reduced, of other
    proportions than the slide's)."""
    rng = np.random.default_rng(0)
    image = np.tile(astronaut_crop, (4, 5, 1))[:256, :320]
    image = np.clip(image + rng.normal(0, 15, image.shape), 0, 255).astype(np.uint8)
    options = {"photometric": "rgb", "metadata": None}
    path = tmp_path / "slide.svs"
    with tifffile.TiffWriter(path) as tif:
        tif.write(image, tile=(64, 64), compression="jpeg", description=APERIO + "320x256" + MPP,
                  **options)  # fmt: skip
        tif.write(image[::8, ::8], description=APERIO + "-> 40x32" + MPP, **options)
        tif.write(image[::2, ::2], tile=(64, 64), description=APERIO + "-> 160x128", **options)
        tif.write(np.full((30, 40, 3), 200, np.uint8), subfiletype=1, description="label",
                  **options)  # fmt: skip
        tif.write(np.full((30, 90, 3), 90, np.uint8), subfiletype=9, description="macro",
                  **options)  # fmt: skip
    with tifffile.TiffFile(path) as tif:  # as tifffile reads an SVS
        assert [s.name for s in tif.series] == ["Baseline", "Thumbnail", "Label", "Macro"]
    return path


def _pages(path) -> list[tuple]:
    with tifffile.TiffFile(path) as tif:
        return [(p.shape, bool(p.is_reduced)) for p in tif.pages]


@pytest.mark.parametrize("chunked", [False, True])
def test_a_slide_with_a_label_and_macro_is_denoised(tmp_path, slide, capsys, chunked):
    """It was refused ('a TIFF of 4 images that differ in size'), also when renamed .tif;
    its label and macro pictures are not part of the slide (nor levels of it)."""
    out = tmp_path / "clean.tif"
    assert main(["denoise", str(slide), "-o", str(out), *(["--chunk", "128"] * chunked)]) == 0
    assert "its label and macro pictures are not written" in capsys.readouterr().err
    assert _pages(out) == [((256, 320, 3), False), ((128, 160, 3), True), ((32, 40, 3), True)]
    with tifffile.TiffFile(out) as tif:  # the scanner's pixel size, which viewers read
        assert tif.pages[0].description.startswith(APERIO) and MPP in tif.pages[0].description


def test_tiffs_by_other_names_are_read_as_tiff_and_written_as_tif(tmp_path, slide, capsys):
    """A slide's .svs, a BigTIFF's .btf: 'unsupported format'. Their results are .tif
    (their makers' layouts are theirs), beside them and in an output folder."""
    big = tmp_path / "in" / "stack.btf"
    big.parent.mkdir()
    tifffile.imwrite(
        big, np.full((3, 48, 64), 1000, np.uint16), bigtiff=True, photometric="minisblack"
    )
    (big.parent / "slide.svs").write_bytes(slide.read_bytes())
    assert main(["denoise", str(big), "-q"]) == 0
    assert tifffile.imread(big.parent / "stack_denoised.tif").shape == (3, 48, 64)
    assert main(["denoise", str(big.parent / "slide.svs"), "-q"]) == 0
    assert (big.parent / "slide_denoised.tif").is_file()
    (big.parent / "slide_denoised.tif").unlink()
    (big.parent / "stack_denoised.tif").unlink()
    assert main(["denoise", str(big.parent), "-o", str(tmp_path / "out"), "-q"]) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["slide.tif", "stack.tif"]
    assert main(["denoise", str(slide), "-o", str(tmp_path / "x.svs")]) == 2
    assert "cannot write format '.svs'" in capsys.readouterr().err


def test_an_ome_tiffs_label_image_is_left_out_of_its_ome_xml_too(tmp_path, capsys):
    """A slide converted by Bio-Formats: the slide and its 'label image' as two OME
    images. Refused as two images of different sizes; then, with the label left out, its
    OME-XML still listed it, and readers of the output failed on an image not there."""
    source = tmp_path / "slide.ome.tif"
    with tifffile.TiffWriter(source, ome=True) as tif:
        options = {"photometric": "minisblack"}
        tif.write(np.full((96, 128), 1000, np.uint16), metadata={"Name": "slide"}, **options)
        tif.write(np.zeros((40, 90), np.uint16), metadata={"Name": "label image"}, **options)
    out = tmp_path / "clean.ome.tif"
    assert main(["denoise", str(source), "-o", str(out), "--method", "pretrained"]) == 0
    assert "its label picture is not written" in capsys.readouterr().err
    with tifffile.TiffFile(out) as tif:
        assert tif.ome_metadata.count("<Image ") == 1 and 'Name="slide"' in tif.ome_metadata
        assert [s.shape for s in tif.series] == [(96, 128)]
